-- Records brought over from another system (`chatstore import`): the id each had there
-- beside the id it has here, so that old links can be redirected and importing again
-- finds what is already here. `kind` names the entity ("user", "conversation", ...).
CREATE TABLE imported_ids (
    source      text COLLATE "C" NOT NULL,
    kind        text COLLATE "C" NOT NULL,
    original_id text COLLATE "C" NOT NULL,
    new_id      uuid NOT NULL,
    imported_at timestamptz NOT NULL,
    PRIMARY KEY (source, kind, original_id)
);

CREATE INDEX imported_ids_new_id ON imported_ids (new_id);
