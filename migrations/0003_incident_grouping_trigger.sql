-- 0003_incident_grouping_trigger.sql: incident grouping maintained by the database.
--
-- record_incident used to run five statements in a transaction (find the group, insert, bump the group's
-- hit_count, or make the new row its own group, read the row back): five trips to the SQLite thread per
-- incident. Now the insert itself names the group (a subquery) and returns the row (RETURNING); this trigger
-- does the rest inside the same statement, so it stays atomic without an explicit transaction.
--
--   new row without a group (or whose group root does not exist): it becomes its own group (group_id = id)
--   new row joining a group: the root's hit_count + 1 and updated_at = the new row's updated_at

CREATE TRIGGER incidents_grouping AFTER INSERT ON incidents
BEGIN
    UPDATE incidents SET group_id = NEW.id
     WHERE id = NEW.id
       AND (NEW.group_id IS NULL OR NOT EXISTS (SELECT 1 FROM incidents WHERE id = NEW.group_id));
    UPDATE incidents SET hit_count = hit_count + 1, updated_at = NEW.updated_at
     WHERE id = NEW.group_id AND NEW.group_id <> NEW.id;
END;
