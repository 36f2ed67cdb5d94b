-- 0001 views, undone: drops every table 0001_views.up.sql created.
DROP TABLE IF EXISTS projection_offsets;
DROP TABLE IF EXISTS internal;
DROP TABLE IF EXISTS audit;
DROP TABLE IF EXISTS servers;
DROP TABLE IF EXISTS clusters;
DROP TABLE IF EXISTS deployment_history;
DROP TABLE IF EXISTS deployments;
DROP TABLE IF EXISTS graph_versions;
DROP TABLE IF EXISTS projects;
