ALTER TABLE blob_chunks DROP COLUMN checksum;
