DROP TABLE imported_ids;
