//! Schema migrations for both databases, from one list: applied in order,
//! each once, inside a transaction, and never edited after it has shipped
//! (a change to the schema is a new entry at the end). SQLite records the
//! version in `PRAGMA user_version`; PostgreSQL, which has none, in a
//! one-row `schema_version` table ([`postgres`]).
//!
//! Most of a migration is SQL both databases run: [`Part::Both`], written
//! in SQLite's spelling and translated mechanically for PostgreSQL
//! ([`postgres::translate`]: `INTEGER` is `BIGINT`, an `AUTOINCREMENT` key
//! an identity column, `REAL` is `DOUBLE PRECISION`, `BLOB` is `BYTEA`, and
//! every table gets a `rowid` identity column, because the store orders by
//! insertion with `ORDER BY rowid` and PostgreSQL has no rowid). Only what
//! has no common spelling is written twice, as a [`Part::Sqlite`] and a
//! [`Part::Postgres`] side by side: triggers (PostgreSQL's run a plpgsql
//! function), data migrations reading JSON, the expression index on a
//! JSON field. A test applies the list to both and checks that the two
//! schemas have the same tables, columns and indexes.
//!
//! Rejected: a second list for PostgreSQL (two lists drift, and a
//! migration forgotten on one side is found in production); an ORM's
//! schema builder (the SQL is the documentation of the data model).
//!
//! The SQLite text of each migration is what it was before PostgreSQL
//! existed, byte for byte: `Both` and `Sqlite` parts in order.

pub mod postgres;

use crate::StoreResult;
use rusqlite::Connection;
use Part::{Both, Postgres, Sqlite};

/// One piece of a migration's SQL.
pub(crate) enum Part {
    /// Run by both databases (translated for PostgreSQL).
    Both(&'static str),
    /// Run by SQLite only.
    Sqlite(&'static str),
    /// Run by PostgreSQL only, as written.
    Postgres(&'static str),
}

/// The migrations, oldest first. Index + 1 is the schema version.
pub(crate) const MIGRATIONS: &[&[Part]] = &[
    // 1: identity, catalog, tokens' revocation list, quota.
    &[Both(
        r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE domains (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    tags        TEXT NOT NULL DEFAULT '[]',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain_id   TEXT NOT NULL REFERENCES domains(id),
    parent_id   TEXT REFERENCES projects(id),
    description TEXT NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    tags        TEXT NOT NULL DEFAULT '[]',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE INDEX projects_parent ON projects(parent_id);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    domain_id           TEXT NOT NULL REFERENCES domains(id),
    enabled             INTEGER NOT NULL DEFAULT 1,
    password_hash       TEXT,
    default_project_id  TEXT,
    description         TEXT NOT NULL DEFAULT '',
    email               TEXT,
    extra               TEXT NOT NULL DEFAULT '{}',
    password_changed_at INTEGER,
    created_at          INTEGER NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain_id   TEXT NOT NULL REFERENCES domains(id),
    description TEXT NOT NULL DEFAULT '',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE user_groups (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_groups_group ON user_groups(group_id);

-- Global roles have domain_id = '' so the UNIQUE rule applies to them too.
CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain_id   TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE implied_roles (
    prior_role_id   TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);

-- actor_kind: 'user' | 'group'; target_kind: 'project' | 'domain' | 'system'.
-- System assignments use target_id = 'all'.
CREATE TABLE assignments (
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    role_id     TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    inherited   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (actor_kind, actor_id, target_kind, target_id, role_id, inherited)
);
CREATE INDEX assignments_target ON assignments(target_kind, target_id);
CREATE INDEX assignments_role ON assignments(role_id);

CREATE TABLE regions (
    id               TEXT PRIMARY KEY,
    description      TEXT NOT NULL DEFAULT '',
    parent_region_id TEXT REFERENCES regions(id),
    extra            TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE services (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    extra       TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE endpoints (
    id         TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    interface  TEXT NOT NULL,
    region_id  TEXT REFERENCES regions(id),
    url        TEXT NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    extra      TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE application_credentials (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id   TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    expires_at   INTEGER,
    unrestricted INTEGER NOT NULL DEFAULT 0,
    roles        TEXT NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL,
    UNIQUE (user_id, name)
);

-- A token is revoked when any event matches it: its audit id, or its user /
-- project / (user, project) with the token issued at or before issued_before.
CREATE TABLE revocation_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    audit_id      TEXT,
    user_id       TEXT,
    project_id    TEXT,
    issued_before INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Quota: hard limits per project (absent = the default), defaults per
-- service, and usage counted from allocations held by consumers (a server,
-- a key pair...), so usage can never drift from what exists.
CREATE TABLE quota_defaults (
    service    TEXT NOT NULL,
    resource   TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (service, resource)
);

CREATE TABLE quota_limits (
    service    TEXT NOT NULL,
    project_id TEXT NOT NULL,
    resource   TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (service, project_id, resource)
);

CREATE TABLE quota_allocations (
    service     TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    resource    TEXT NOT NULL,
    consumer_id TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    PRIMARY KEY (service, project_id, resource, consumer_id)
);
CREATE INDEX quota_allocations_consumer ON quota_allocations(consumer_id);
"#,
    )],
    // 2: compute flavors (with extra specs and access lists) and key pairs.
    &[Both(
        r#"
CREATE TABLE flavors (
    pk           INTEGER PRIMARY KEY AUTOINCREMENT,
    flavorid     TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL UNIQUE,
    memory_mb    INTEGER NOT NULL,
    vcpus        INTEGER NOT NULL,
    root_gb      INTEGER NOT NULL,
    ephemeral_gb INTEGER NOT NULL DEFAULT 0,
    swap         INTEGER NOT NULL DEFAULT 0,
    rxtx_factor  REAL NOT NULL DEFAULT 1.0,
    is_public    INTEGER NOT NULL DEFAULT 1,
    disabled     INTEGER NOT NULL DEFAULT 0,
    description  TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER
);

CREATE TABLE flavor_extra_specs (
    flavor_pk INTEGER NOT NULL REFERENCES flavors(pk) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (flavor_pk, key)
);

CREATE TABLE flavor_access (
    flavor_pk  INTEGER NOT NULL REFERENCES flavors(pk) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (flavor_pk, project_id)
);
CREATE INDEX flavor_access_project ON flavor_access(project_id);

CREATE TABLE key_pairs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (user_id, name)
);
"#,
    )],
    // 3: images (tags and free-form properties as JSON columns) and image members.
    &[Both(
        r#"
CREATE TABLE images (
    id               TEXT PRIMARY KEY,
    name             TEXT,
    status           TEXT NOT NULL,
    visibility       TEXT NOT NULL,
    owner            TEXT,
    protected        INTEGER NOT NULL DEFAULT 0,
    os_hidden        INTEGER NOT NULL DEFAULT 0,
    disk_format      TEXT,
    container_format TEXT,
    size             INTEGER,
    virtual_size     INTEGER,
    checksum         TEXT,
    os_hash_algo     TEXT,
    os_hash_value    TEXT,
    min_disk         INTEGER NOT NULL DEFAULT 0,
    min_ram          INTEGER NOT NULL DEFAULT 0,
    tags             TEXT NOT NULL DEFAULT '[]',
    properties       TEXT NOT NULL DEFAULT '{}',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX images_owner ON images(owner);

CREATE TABLE image_members (
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    member_id  TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (image_id, member_id)
);
CREATE INDEX image_members_member ON image_members(member_id);
"#,
    )],
    // 4: placement: resource providers (one per compute host), their
    // inventories, and allocations held by consumers (instances).
    &[Both(
        r#"
CREATE TABLE placement_providers (
    name       TEXT PRIMARY KEY,
    generation INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE placement_inventories (
    provider         TEXT NOT NULL REFERENCES placement_providers(name) ON DELETE CASCADE,
    resource_class   TEXT NOT NULL,
    total            INTEGER NOT NULL,
    reserved         INTEGER NOT NULL DEFAULT 0,
    min_unit         INTEGER NOT NULL DEFAULT 1,
    max_unit         INTEGER NOT NULL,
    step_size        INTEGER NOT NULL DEFAULT 1,
    allocation_ratio REAL NOT NULL DEFAULT 1.0,
    PRIMARY KEY (provider, resource_class)
);

CREATE TABLE placement_allocations (
    consumer       TEXT NOT NULL,
    provider       TEXT NOT NULL REFERENCES placement_providers(name),
    resource_class TEXT NOT NULL,
    used           INTEGER NOT NULL,
    PRIMARY KEY (consumer, provider, resource_class)
);
CREATE INDEX placement_allocations_provider ON placement_allocations(provider, resource_class);
"#,
    )],
    // 5: servers (instances) with their desired and observed state, the
    // per-host revision the host agent watches, instance actions, server
    // groups and compute services. What the API shows of a server beyond
    // the indexed columns is one JSON document, so new fields need no
    // migration.
    &[Both(
        r#"
CREATE TABLE instances (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid        TEXT NOT NULL UNIQUE,
    project_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    host        TEXT,
    vm_state    TEXT NOT NULL,
    task_state  TEXT,
    power_state INTEGER NOT NULL DEFAULT 0,
    doc         TEXT NOT NULL,
    desired     TEXT,
    generation  INTEGER NOT NULL DEFAULT 0,
    observed    TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE INDEX instances_project ON instances(project_id, deleted_at);
CREATE INDEX instances_host ON instances(host);

CREATE TABLE host_revisions (
    host     TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
);

CREATE TABLE instance_actions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_uuid TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    action        TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    message       TEXT,
    start_time    INTEGER NOT NULL,
    finish_time   INTEGER,
    events        TEXT NOT NULL DEFAULT '[]',
    UNIQUE (instance_uuid, request_id)
);

CREATE TABLE server_groups (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    policy     TEXT NOT NULL,
    rules      TEXT NOT NULL DEFAULT '{}',
    members    TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);

CREATE TABLE compute_services (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid            TEXT NOT NULL UNIQUE,
    host            TEXT NOT NULL,
    binary          TEXT NOT NULL,
    zone            TEXT NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0,
    disabled_reason TEXT,
    forced_down     INTEGER NOT NULL DEFAULT 0,
    capabilities    TEXT NOT NULL DEFAULT '{}',
    heartbeat_at    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (host, binary)
);
"#,
    )],
    // 6: multi-step operations (the step/undo runner's progress records).
    &[Both(
        r#"
CREATE TABLE operations (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    payload    TEXT NOT NULL DEFAULT 'null',
    completed  INTEGER NOT NULL DEFAULT 0,
    state      TEXT NOT NULL,
    error      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX operations_state ON operations(state);
CREATE INDEX operations_subject ON operations(subject);
"#,
    )],
    // Neutron's networks, subnets and ports; constrained columns beside a
    // JSON body (see network.rs). Segments and IP allocations are unique
    // so that two concurrent creates can never share one.
    &[Both(
        r#"
CREATE TABLE networks (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE TABLE network_segments (
    network_id       TEXT PRIMARY KEY REFERENCES networks(id) ON DELETE CASCADE,
    network_type     TEXT NOT NULL,
    physical_network TEXT NOT NULL,
    segmentation_id  INTEGER NOT NULL,
    UNIQUE (network_type, physical_network, segmentation_id)
);
CREATE TABLE subnets (
    id         TEXT PRIMARY KEY,
    network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    body       TEXT NOT NULL
);
CREATE INDEX subnets_network ON subnets(network_id);
CREATE TABLE ports (
    id           TEXT PRIMARY KEY,
    network_id   TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    mac_address  TEXT NOT NULL,
    device_owner TEXT NOT NULL,
    body         TEXT NOT NULL,
    UNIQUE (network_id, mac_address)
);
CREATE TABLE ip_allocations (
    subnet_id  TEXT NOT NULL REFERENCES subnets(id) ON DELETE CASCADE,
    ip_address TEXT NOT NULL,
    port_id    TEXT NOT NULL REFERENCES ports(id) ON DELETE CASCADE,
    PRIMARY KEY (subnet_id, ip_address)
);
CREATE INDEX ip_allocations_port ON ip_allocations(port_id);
"#,
    )],
    // Neutron security groups and their rules. A project has at most one
    // default group; a rule is unique in its group by its match key;
    // deleting a group deletes its rules and the rules naming it as remote.
    &[Both(
        r#"
CREATE TABLE security_groups (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    description     TEXT NOT NULL DEFAULT '',
    stateful        INTEGER NOT NULL DEFAULT 1,
    is_default      INTEGER NOT NULL DEFAULT 0,
    revision_number INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    members_changed_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX security_groups_project ON security_groups(project_id);
CREATE UNIQUE INDEX security_groups_one_default ON security_groups(project_id)
    WHERE is_default = 1;

CREATE TABLE security_group_rules (
    id                TEXT PRIMARY KEY,
    project_id        TEXT NOT NULL,
    security_group_id TEXT NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
    direction         TEXT NOT NULL,
    ethertype         TEXT NOT NULL,
    protocol          TEXT,
    port_range_min    INTEGER,
    port_range_max    INTEGER,
    remote_ip_prefix  TEXT,
    remote_group_id   TEXT REFERENCES security_groups(id) ON DELETE CASCADE,
    description       TEXT NOT NULL DEFAULT '',
    match_key         TEXT NOT NULL,
    revision_number   INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (security_group_id, match_key)
);
CREATE INDEX security_group_rules_project ON security_group_rules(project_id);
CREATE INDEX security_group_rules_remote ON security_group_rules(remote_group_id);
"#,
    )],
    // Agents' reports of their objects other than instances (see
    // host_objects.rs).
    &[Both(
        r#"
CREATE TABLE host_objects (
    host   TEXT NOT NULL,
    kind   TEXT NOT NULL,
    id     TEXT NOT NULL,
    report TEXT NOT NULL,
    PRIMARY KEY (host, kind, id)
);
"#,
    )],
    // A port's project and host as columns: every port write asks which
    // hosts carry the port's network and project, which read each port's
    // JSON body (a scan that grew with the ports) before.
    &[
        Both(
            r#"
ALTER TABLE ports ADD COLUMN project_id TEXT NOT NULL DEFAULT '';
ALTER TABLE ports ADD COLUMN host_id TEXT NOT NULL DEFAULT '';
"#,
        ),
        Sqlite(
            r#"UPDATE ports SET project_id = coalesce(json_extract(body, '$.project_id'), ''),
                 host_id = coalesce(json_extract(body, '$.host_id'), '');
"#,
        ),
        Postgres(
            r#"UPDATE ports SET project_id = coalesce(body::jsonb ->> 'project_id', ''),
                 host_id = coalesce(body::jsonb ->> 'host_id', '');
"#,
        ),
        Both(
            r#"CREATE INDEX ports_network_host ON ports(network_id, host_id);
CREATE INDEX ports_project_host ON ports(project_id, host_id);
-- Where IPAM looks first for a subnet's next free address (after the
-- one it gave last), so an allocation is a few lookups, not a read of
-- every allocation of the subnet.
CREATE TABLE ipam_next (
    subnet_id  TEXT PRIMARY KEY REFERENCES subnets(id) ON DELETE CASCADE,
    next_value TEXT NOT NULL
);
-- Every address below the hint is taken; an address given back (a port
-- deleted, through the cascade too) may break that, so the hint goes and
-- the next allocation looks from the pools' start again.
"#,
        ),
        Sqlite(
            r#"CREATE TRIGGER ipam_next_forget AFTER DELETE ON ip_allocations
BEGIN
    DELETE FROM ipam_next WHERE subnet_id = OLD.subnet_id;
END;
"#,
        ),
        Postgres(
            r#"CREATE FUNCTION ipam_next_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ipam_next WHERE subnet_id = OLD.subnet_id;
    RETURN NULL;
END $$;
CREATE TRIGGER ipam_next_forget AFTER DELETE ON ip_allocations
    FOR EACH ROW EXECUTE FUNCTION ipam_next_forget();
"#,
        ),
        Both(
            r#"-- A project's quota usage per resource, kept by triggers on every change
-- of quota_allocations (whatever writes it): a reservation reads a few
-- rows instead of summing one row per consumer.
CREATE TABLE quota_usage (
    service    TEXT NOT NULL,
    project_id TEXT NOT NULL,
    resource   TEXT NOT NULL,
    in_use     INTEGER NOT NULL,
    PRIMARY KEY (service, project_id, resource)
);
INSERT INTO quota_usage (service, project_id, resource, in_use)
    SELECT service, project_id, resource, sum(amount) FROM quota_allocations
    GROUP BY service, project_id, resource;
"#,
        ),
        Sqlite(
            r#"CREATE TRIGGER quota_usage_insert AFTER INSERT ON quota_allocations
BEGIN
    INSERT INTO quota_usage (service, project_id, resource, in_use)
        VALUES (NEW.service, NEW.project_id, NEW.resource, NEW.amount)
        ON CONFLICT (service, project_id, resource) DO UPDATE SET in_use = in_use + NEW.amount;
END;
CREATE TRIGGER quota_usage_update AFTER UPDATE ON quota_allocations
BEGIN
    UPDATE quota_usage SET in_use = in_use - OLD.amount
        WHERE service = OLD.service AND project_id = OLD.project_id AND resource = OLD.resource;
    INSERT INTO quota_usage (service, project_id, resource, in_use)
        VALUES (NEW.service, NEW.project_id, NEW.resource, NEW.amount)
        ON CONFLICT (service, project_id, resource) DO UPDATE SET in_use = in_use + NEW.amount;
END;
CREATE TRIGGER quota_usage_delete AFTER DELETE ON quota_allocations
BEGIN
    UPDATE quota_usage SET in_use = in_use - OLD.amount
        WHERE service = OLD.service AND project_id = OLD.project_id AND resource = OLD.resource;
    DELETE FROM quota_usage
        WHERE service = OLD.service AND project_id = OLD.project_id AND resource = OLD.resource
          AND in_use = 0;
END;
"#,
        ),
        Postgres(
            r#"CREATE FUNCTION quota_usage_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE quota_usage SET in_use = in_use - OLD.amount
            WHERE service = OLD.service AND project_id = OLD.project_id
              AND resource = OLD.resource;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO quota_usage (service, project_id, resource, in_use)
            VALUES (NEW.service, NEW.project_id, NEW.resource, NEW.amount)
            ON CONFLICT (service, project_id, resource)
            DO UPDATE SET in_use = quota_usage.in_use + NEW.amount;
    END IF;
    IF TG_OP = 'DELETE' THEN
        DELETE FROM quota_usage
            WHERE service = OLD.service AND project_id = OLD.project_id
              AND resource = OLD.resource AND in_use = 0;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER quota_usage_keep AFTER INSERT OR UPDATE OR DELETE ON quota_allocations
    FOR EACH ROW EXECUTE FUNCTION quota_usage_keep();
"#,
        ),
    ],
    // Cinder's volumes, snapshots, attachments and volume types. As for
    // networks, the columns are what is looked up or constrained (owner,
    // parent volume, type) and the rest is a JSON body (see volume.rs).
    // Snapshots and attachments go with their volume (the API refuses a
    // delete that would take them unless asked to). The default type
    // `__DEFAULT__` exists from the start, as Cinder's database sync
    // creates it.
    &[
        Both(
            r#"
CREATE TABLE volume_types (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE volume_type_extra_specs (
    type_id TEXT NOT NULL REFERENCES volume_types(id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (type_id, key)
);
CREATE TABLE volume_type_access (
    type_id    TEXT NOT NULL REFERENCES volume_types(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (type_id, project_id)
);
CREATE TABLE volumes (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL,
    volume_type_id TEXT NOT NULL REFERENCES volume_types(id),
    body           TEXT NOT NULL
);
CREATE INDEX volumes_project ON volumes(project_id);
CREATE INDEX volumes_type ON volumes(volume_type_id);
CREATE TABLE volume_snapshots (
    id         TEXT PRIMARY KEY,
    volume_id  TEXT NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX volume_snapshots_volume ON volume_snapshots(volume_id);
CREATE INDEX volume_snapshots_project ON volume_snapshots(project_id);
CREATE TABLE volume_attachments (
    id            TEXT PRIMARY KEY,
    volume_id     TEXT NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
    project_id    TEXT NOT NULL,
    instance_uuid TEXT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX volume_attachments_volume ON volume_attachments(volume_id);
CREATE INDEX volume_attachments_instance ON volume_attachments(instance_uuid);
"#,
        ),
        Sqlite(
            r#"INSERT INTO volume_types (id, name, body)
    SELECT u, '__DEFAULT__', json_object('id', u, 'name', '__DEFAULT__',
        'description', 'Default Volume Type', 'is_public', json('true'),
        'created_at', CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
    FROM (SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
        substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' ||
        hex(randomblob(6))) AS u);
"#,
        ),
        Postgres(
            r#"INSERT INTO volume_types (id, name, body)
    SELECT u, '__DEFAULT__', jsonb_build_object('id', u, 'name', '__DEFAULT__',
        'description', 'Default Volume Type', 'is_public', true,
        'created_at', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)::text
    FROM (SELECT gen_random_uuid()::text AS u) AS fresh;
"#,
        ),
    ],
    // Cinder's backups (records of what the backup store holds; the data
    // is not here) and QoS specs with their association to volume types
    // (at most one set per type). See volume_extras.rs.
    &[Both(
        r#"
CREATE TABLE volume_backups (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    volume_id  TEXT NOT NULL,
    parent_id  TEXT,
    body       TEXT NOT NULL
);
CREATE INDEX volume_backups_project ON volume_backups(project_id);
CREATE INDEX volume_backups_parent ON volume_backups(parent_id);
CREATE TABLE qos_specs (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE qos_associations (
    type_id TEXT PRIMARY KEY,
    qos_id  TEXT NOT NULL REFERENCES qos_specs(id) ON DELETE CASCADE
);
CREATE INDEX qos_associations_qos ON qos_associations(qos_id);
"#,
    )],
    // Volume transfers: one per volume at most (the volume is
    // `awaiting-transfer` while it exists); the auth key only hashed.
    &[Both(
        r#"
CREATE TABLE volume_transfers (
    id         TEXT PRIMARY KEY,
    volume_id  TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX volume_transfers_project ON volume_transfers(project_id);
"#,
    )],
    // Keystone trusts (OS-TRUST), see trust.rs. A trust goes with its
    // trustor, its trustee, its project and the trust it was redelegated
    // from; roles are a JSON array of role ids (a deleted role simply stops
    // being delegated, as in Keystone).
    &[Both(
        r#"
CREATE TABLE trusts (
    id                   TEXT PRIMARY KEY,
    trustor_user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    trustee_user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id           TEXT REFERENCES projects(id) ON DELETE CASCADE,
    impersonation        INTEGER NOT NULL,
    expires_at           INTEGER,
    remaining_uses       INTEGER,
    redelegated_trust_id TEXT REFERENCES trusts(id) ON DELETE CASCADE,
    redelegation_count   INTEGER NOT NULL DEFAULT 0,
    roles                TEXT NOT NULL DEFAULT '[]',
    extra                TEXT NOT NULL DEFAULT '{}',
    created_at           INTEGER NOT NULL
);
CREATE INDEX trusts_trustor ON trusts(trustor_user_id);
CREATE INDEX trusts_trustee ON trusts(trustee_user_id);
CREATE INDEX trusts_project ON trusts(project_id);
CREATE INDEX trusts_parent ON trusts(redelegated_trust_id);
"#,
    )],
    // Exports of local-backend volumes to other hosts (volume_exports.rs):
    // the storage host is a column (its document lists them), the rest a
    // body with the pre-shared key.
    &[Both(
        r#"
CREATE TABLE volume_exports (
    volume_id TEXT PRIMARY KEY,
    host      TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX volume_exports_host ON volume_exports(host);
"#,
    )],
    // Neutron routers (router.rs): the host that runs one is a column (its
    // document lists it), the rest a body. Its ports are ports, found by
    // device_id, which gets an index of its own.
    &[
        Both(
            r#"
CREATE TABLE routers (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    host       TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX routers_project ON routers(project_id);
CREATE INDEX routers_host ON routers(host);
"#,
        ),
        Sqlite(
            r#"CREATE INDEX ports_device ON ports(json_extract(body, '$.device_id'));
"#,
        ),
        // PostgreSQL uses this index only for a lookup written with the very
        // same expression (`body::jsonb ->> 'device_id'`).
        Postgres(
            r#"CREATE INDEX ports_device ON ports ((body::jsonb ->> 'device_id'));
"#,
        ),
    ],
    // Neutron's floating IPs (floating_ip.rs): a floating IP goes with its
    // own port (made in the same transaction; the cascade is a backstop,
    // the service deletes both). One floating IP per fixed address and
    // external network; a deleted fixed port leaves port_id NULL (the
    // port delete also disassociates the body and bumps the router's
    // host; the NULL is a backstop read as "disassociated"). A router's
    // floating IP change time moves its generation when a floating IP
    // leaves it.
    &[Both(
        r#"
CREATE TABLE floating_ips (
    id                  TEXT PRIMARY KEY,
    project_id          TEXT NOT NULL,
    floating_network_id TEXT NOT NULL,
    floating_port_id    TEXT NOT NULL UNIQUE REFERENCES ports(id) ON DELETE CASCADE,
    port_id             TEXT REFERENCES ports(id) ON DELETE SET NULL,
    fixed_ip_address    TEXT,
    router_id           TEXT,
    body                TEXT NOT NULL
);
CREATE INDEX floating_ips_project ON floating_ips(project_id);
CREATE INDEX floating_ips_router ON floating_ips(router_id);
CREATE UNIQUE INDEX floating_ips_fixed
    ON floating_ips(port_id, fixed_ip_address, floating_network_id)
    WHERE port_id IS NOT NULL;
CREATE TABLE router_floating_ip_changes (
    router_id  TEXT PRIMARY KEY,
    changed_at INTEGER NOT NULL
);
"#,
    )],
    // Keystone's credentials (blobs sealed by the identity service; the
    // id of an `ec2` credential is the SHA-256 of its access key), stored
    // policies, and project endpoint filtering (OS-EP-FILTER).
    &[Both(
        r#"
CREATE TABLE credentials (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    blob       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX credentials_user ON credentials(user_id);
CREATE TABLE policies (
    id    TEXT PRIMARY KEY,
    blob  TEXT NOT NULL,
    type  TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE endpoint_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    filters     TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE project_endpoints (
    project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, endpoint_id)
);
CREATE TABLE project_endpoint_groups (
    project_id        TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    endpoint_group_id TEXT NOT NULL REFERENCES endpoint_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, endpoint_group_id)
);
"#,
    )],
    // Nova's host aggregates (aggregate.rs): the integer id Nova shows,
    // the unique name as a column, the rest a body.
    &[Both(
        r#"
CREATE TABLE aggregates (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
"#,
    )],
    // Glance's metadata definitions: a namespace per row with its
    // objects, properties, tags and resource type associations as JSON
    // (see crate::metadefs), and the resource types they name.
    &[Both(
        r#"
CREATE TABLE metadef_namespaces (
    namespace  TEXT PRIMARY KEY,
    visibility TEXT NOT NULL,
    protected  INTEGER NOT NULL DEFAULT 0,
    owner      TEXT,
    body       TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX metadef_namespaces_owner ON metadef_namespaces(owner);

CREATE TABLE metadef_resource_types (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
"#,
    )],
    // Keystone's domain-specific configuration (one document per domain)
    // and application credential access rules (a user's rules, shared by
    // the credentials naming them).
    &[Both(
        r#"
CREATE TABLE domain_configs (
    domain_id TEXT PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
    body      TEXT NOT NULL
);
CREATE TABLE access_rules (
    id      TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    method  TEXT NOT NULL,
    path    TEXT NOT NULL,
    UNIQUE (user_id, service, method, path)
);
CREATE TABLE application_credential_access_rules (
    application_credential_id TEXT NOT NULL REFERENCES application_credentials(id) ON DELETE CASCADE,
    access_rule_id            TEXT NOT NULL REFERENCES access_rules(id),
    PRIMARY KEY (application_credential_id, access_rule_id)
);
"#,
    )],
    // Controllers sharing the database, named leases of singleton jobs,
    // and which incarnation owns each operation (controller.rs): so that
    // recovery touches only the work of controllers that are gone.
    &[Both(
        r#"
CREATE TABLE controllers (
    id          TEXT PRIMARY KEY,
    incarnation TEXT NOT NULL UNIQUE,
    host        TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    lease_until INTEGER NOT NULL
);
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
ALTER TABLE operations ADD COLUMN owner TEXT;
CREATE INDEX operations_owner ON operations(owner);
"#,
    )],
    // The token and credential key repositories, shared by every
    // controller (token_key.rs): each key sealed with the master key.
    &[Both(
        r#"
CREATE TABLE token_keys (
    repository TEXT NOT NULL,
    number     INTEGER NOT NULL,
    sealed     TEXT NOT NULL,
    PRIMARY KEY (repository, number)
);
"#,
    )],
    // Keystone's OS-OAUTH1 consumers (oauth1.rs): the secret sealed
    // with the credential keys, since it must be read back to check
    // signatures.
    &[Both(
        r#"
CREATE TABLE oauth1_consumers (
    id          TEXT PRIMARY KEY,
    description TEXT,
    secret      TEXT NOT NULL,
    extra       TEXT NOT NULL DEFAULT '{}'
);
"#,
    )],
    // 25: where a controller's peers reach it (controller.rs,
    // `set_controller_peer`): the URL of its controller-to-controller
    // endpoint and the directory of its local volume backend, so volume
    // work goes to the controller that holds the data.
    &[Both(
        r#"
ALTER TABLE controllers ADD COLUMN peer_url TEXT;
ALTER TABLE controllers ADD COLUMN volume_dir TEXT;
"#,
    )],
    // 26: Glance tasks (image import tasks and legacy `/v2/tasks`).
    &[Both(
        r#"
CREATE TABLE image_tasks (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    status     TEXT NOT NULL,
    owner      TEXT,
    image_id   TEXT,
    request_id TEXT,
    user_id    TEXT,
    input      TEXT NOT NULL DEFAULT '{}',
    result     TEXT,
    message    TEXT NOT NULL DEFAULT '',
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX image_tasks_image ON image_tasks(image_id);
"#,
    )],
    // 27: Keystone's [security_compliance]: user options, password expiry,
    // who set the password, the password history (hashes), and failed
    // logins in their own table (uncached, so a failed login does not
    // empty the token cache; counted by one upsert per failure).
    &[Both(
        r#"
ALTER TABLE users ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN password_expires_at INTEGER;
ALTER TABLE users ADD COLUMN password_self_service INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN password_history TEXT NOT NULL DEFAULT '[]';
CREATE TABLE user_login_failures (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    count   INTEGER NOT NULL,
    last_at INTEGER NOT NULL
);
"#,
    )],
    // 28: Keystone's unified limits (unified_limit.rs): registered limits
    // (unique per service, region, resource) and project or domain limits
    // pointing at one (unique per registered limit and project or domain).
    &[Both(
        r#"
CREATE TABLE registered_limits (
    id            TEXT PRIMARY KEY,
    service_id    TEXT NOT NULL,
    region_id     TEXT,
    resource_name TEXT NOT NULL,
    default_limit INTEGER NOT NULL,
    description   TEXT
);
CREATE UNIQUE INDEX registered_limits_unique
    ON registered_limits(service_id, coalesce(region_id, ''), resource_name);
CREATE TABLE limits (
    id                  TEXT PRIMARY KEY,
    registered_limit_id TEXT NOT NULL REFERENCES registered_limits(id),
    project_id          TEXT REFERENCES projects(id) ON DELETE CASCADE,
    domain_id           TEXT REFERENCES domains(id) ON DELETE CASCADE,
    resource_limit      INTEGER NOT NULL,
    description         TEXT
);
CREATE UNIQUE INDEX limits_unique
    ON limits(registered_limit_id, coalesce(project_id, ''), coalesce(domain_id, ''));
"#,
    )],
];

/// Bring the schema up to date. Safe to call on every start.
pub fn run(conn: &Connection) -> StoreResult<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (index, parts) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        if version <= current {
            continue;
        }
        tracing::info!(version, "applying schema migration");
        let sql = sqlite_sql(parts);
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
        ))?;
    }
    Ok(())
}

/// The schema version this build expects.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// A migration's SQL as SQLite runs it.
fn sqlite_sql(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|part| match part {
            Both(sql) | Sqlite(sql) => Some(*sql),
            Postgres(_) => None,
        })
        .collect()
}
