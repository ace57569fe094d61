-- Trunkline's own database, next to Temporal's (`temporal`, `temporal_visibility`) on one server.
-- The postgres image runs this once, when the data directory is first initialised, through psql
-- as POSTGRES_USER; `\getenv` (psql 15+) reads the application role's password from the container.
\set ON_ERROR_STOP on
\getenv trunkline_password TRUNKLINE_DB_PASSWORD
\if :{?trunkline_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'TRUNKLINE_DB_PASSWORD is not set on the postgresql service'; END $$;
\endif

CREATE ROLE trunkline LOGIN PASSWORD :'trunkline_password';
CREATE DATABASE trunkline OWNER trunkline;
