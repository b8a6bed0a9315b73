-- Names of IAM Identity Center users, as the Identity Store gives them
-- (DescribeUser), by identity store and user id: queries made through
-- trusted identity propagation carry only the id (onBehalfOf.userId). A
-- row records the last attempt: the name, or why there is none.
CREATE TABLE identity_names (
    store_id     TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    user_name    TEXT    NOT NULL DEFAULT '',
    display_name TEXT    NOT NULL DEFAULT '',
    error        TEXT    NOT NULL DEFAULT '',
    resolved_at  INTEGER NOT NULL,
    PRIMARY KEY (store_id, user_id)
) WITHOUT ROWID;

-- The Identity Center users of stored queries, without reading them all.
CREATE INDEX queries_on_behalf_of ON queries (on_behalf_of_user, on_behalf_of_store) WHERE on_behalf_of_user <> '';
