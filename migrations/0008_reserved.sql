-- 0008_reserved.sql: TEMPORARY no-op placeholder so the narratives branch (0009) runs alone; the migrator refuses
-- gaps in numbering. The lead replaces this file with 0008_campaigns.sql at merge.
CREATE TABLE IF NOT EXISTS _reserved_0008 (x INTEGER);
DROP TABLE IF EXISTS _reserved_0008;
