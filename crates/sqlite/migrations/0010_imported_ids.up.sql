-- Records brought over from another system (`chatstore import`): the id each had there
-- beside the id it has here, so that old links can be redirected and importing again
-- finds what is already here. `kind` names the entity ("user", "conversation", ...).
CREATE TABLE imported_ids (
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    original_id TEXT NOT NULL,
    new_id      TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (source, kind, original_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX imported_ids_new_id ON imported_ids (new_id);
