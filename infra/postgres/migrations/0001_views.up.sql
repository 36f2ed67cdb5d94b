-- 0001 views: the read side's tables (projections/view_store.h). Runs with search_path set to
-- the target schema. Every view table has the same index columns (what listings filter and
-- order on: project_id, cluster_id, environment, status_code, sort_key), the read model as
-- serialized protobuf (doc: the source the store returns) and typed columns derived from the
-- doc for people and tools (NULL when a doc does not parse as its read model). Keys use the
-- "C" collation so (sort_key, key) ordering is bytewise, as in the other stores. Indexes are
-- (sort_key, key) and (project_id | cluster_id, sort_key, key) where a table is listed that way;
-- graph versions and audit entries are only listed per project (their sort keys are per-project
-- sequences), so they have no global order index — each index costs every write.

CREATE TABLE projects (
  key text COLLATE "C" PRIMARY KEY,
  project_id text NOT NULL DEFAULT '',
  cluster_id text NOT NULL DEFAULT '',
  environment text NOT NULL DEFAULT '',
  status_code integer NOT NULL DEFAULT 0,
  sort_key bigint NOT NULL DEFAULT 0,
  doc bytea NOT NULL,
  name text,
  owner text,
  description text,
  repository_url text,
  labels jsonb,
  latest_graph_version bigint,
  created_at timestamptz
) WITH (fillfactor = 90);
CREATE INDEX projects_by_order ON projects (sort_key, key);

CREATE TABLE graph_versions (
  key text COLLATE "C" PRIMARY KEY,
  project_id text NOT NULL DEFAULT '',
  cluster_id text NOT NULL DEFAULT '',
  environment text NOT NULL DEFAULT '',
  status_code integer NOT NULL DEFAULT 0,
  sort_key bigint NOT NULL DEFAULT 0,
  doc bytea NOT NULL,
  version bigint,
  service_count integer,
  commit_hash text,
  content_hash text,
  published_by text,
  published_at timestamptz
);
CREATE INDEX graph_versions_by_project ON graph_versions (project_id, sort_key, key);

CREATE TABLE deployments (
  id text COLLATE "C" PRIMARY KEY,
  project_id text NOT NULL DEFAULT '',
  cluster_id text NOT NULL DEFAULT '',
  environment text NOT NULL DEFAULT '',
  status_code integer NOT NULL DEFAULT 0,
  sort_key bigint NOT NULL DEFAULT 0,
  doc bytea NOT NULL,
  status text,                -- "DEPLOYING", ... (v1.DeploymentStatus without its prefix)
  graph_version bigint,
  service_statuses jsonb,     -- [v1.ServiceState, ...]
  env_vars jsonb,             -- not in the Deployment read model yet: NULL
  config jsonb,               -- {"strategy": v1.Strategy, "options": v1.DeployOptions}
  requested_by text,
  rollback_of text,
  superseded_by text,
  started_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz
) WITH (fillfactor = 90);
CREATE INDEX deployments_by_order ON deployments (sort_key, id);
CREATE INDEX deployments_by_project ON deployments (project_id, sort_key, id);

CREATE TABLE deployment_history (
  id text COLLATE "C" PRIMARY KEY,  -- the deployment id
  project_id text NOT NULL DEFAULT '',
  cluster_id text NOT NULL DEFAULT '',
  environment text NOT NULL DEFAULT '',
  status_code integer NOT NULL DEFAULT 0,
  sort_key bigint NOT NULL DEFAULT 0,
  doc bytea NOT NULL,
  deployment_id text,
  deployment_snapshot jsonb,  -- v1.DeploymentSnapshot
  version text,               -- the graph version deployed
  rolled_back boolean NOT NULL DEFAULT false,  -- not in the read model yet: false
  created_at timestamptz      -- from sort_key (ms)
);
CREATE INDEX deployment_history_by_order ON deployment_history (sort_key, id);
CREATE INDEX deployment_history_by_project ON deployment_history (project_id, sort_key, id);

CREATE TABLE clusters (
  key text COLLATE "C" PRIMARY KEY,
  project_id text NOT NULL DEFAULT '',
  cluster_id text NOT NULL DEFAULT '',
  environment text NOT NULL DEFAULT '',
  status_code integer NOT NULL DEFAULT 0,
  sort_key bigint NOT NULL DEFAULT 0,
  doc bytea NOT NULL,
  name text,
  kind text,                  -- "SERVERS", "KUBERNETES"
  server_count integer,
  labels jsonb,
  created_at timestamptz,
  updated_at timestamptz
) WITH (fillfactor = 90);
CREATE INDEX clusters_by_order ON clusters (sort_key, key);

CREATE TABLE servers (
  key text COLLATE "C" PRIMARY KEY,
  project_id text NOT NULL DEFAULT '',
  cluster_id text NOT NULL DEFAULT '',
  environment text NOT NULL DEFAULT '',
  status_code integer NOT NULL DEFAULT 0,
  sort_key bigint NOT NULL DEFAULT 0,
  doc bytea NOT NULL,         -- the sealed SSH credential stays inside the doc only
  name text,
  host text,
  port integer,
  ssh_user text,
  status text,                -- "READY", ... (v1.ServerStatus without its prefix)
  agent_status text,          -- "ONLINE", ... (v1.AgentStatus without its prefix)
  agent_version text,
  labels jsonb,
  last_seen_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz
) WITH (fillfactor = 90);
CREATE INDEX servers_by_order ON servers (sort_key, key);
CREATE INDEX servers_by_cluster ON servers (cluster_id, sort_key, key);

CREATE TABLE audit (
  key text COLLATE "C" PRIMARY KEY,
  project_id text NOT NULL DEFAULT '',
  cluster_id text NOT NULL DEFAULT '',
  environment text NOT NULL DEFAULT '',
  status_code integer NOT NULL DEFAULT 0,
  sort_key bigint NOT NULL DEFAULT 0,
  doc bytea NOT NULL,
  event_id text,
  type text,
  aggregate_type text,
  aggregate_id text,
  sequence bigint,
  actor text,
  correlation_id text,
  summary text,
  occurred_at timestamptz
);
CREATE INDEX audit_by_project ON audit (project_id, sort_key, key);

CREATE TABLE internal (
  key text COLLATE "C" PRIMARY KEY,
  project_id text NOT NULL DEFAULT '',
  cluster_id text NOT NULL DEFAULT '',
  environment text NOT NULL DEFAULT '',
  status_code integer NOT NULL DEFAULT 0,
  sort_key bigint NOT NULL DEFAULT 0,
  doc bytea NOT NULL
);
CREATE INDEX internal_by_order ON internal (sort_key, key);

-- Where each projection stands in each log partition: the next offset it will apply.
CREATE TABLE projection_offsets (
  projection text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  next_offset bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, topic, partition)
);
