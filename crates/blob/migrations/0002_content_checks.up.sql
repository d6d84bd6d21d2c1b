-- A fast checksum of every content, checked by every read: one xxh3-64 per 64 KiB
-- chunk (the last one shorter), packed little-endian, eight bytes each. The blake3
-- hash stays the content address, checked when a blob is written and by
-- verify_contents. A table of its own rather than a column of contents: a column
-- added to contents would sit after data, and reading it would walk the whole
-- overflow chain of a large content before its bytes are read. Contents stored before
-- this table have no row here: reads of those check the blake3 hash instead, and
-- verify_contents records their checksums.
CREATE TABLE content_checks (
    content_id INTEGER PRIMARY KEY REFERENCES contents(id) ON DELETE CASCADE,
    checks     BLOB NOT NULL
) STRICT;
