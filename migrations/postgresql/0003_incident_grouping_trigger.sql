-- 0003_incident_grouping_trigger.sql (PostgreSQL): incident grouping maintained by the database
-- (see ../0003_incident_grouping_trigger.sql). PostgreSQL triggers call functions, and a BEFORE trigger can set
-- the new row's own group_id before it is written (the identity default is already assigned), so the row
-- RETURNING shows is the final one; the AFTER trigger bumps the group root's hit_count in the same statement.

CREATE FUNCTION incidents_grouping_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.group_id IS NULL OR NOT EXISTS (SELECT 1 FROM incidents WHERE id = NEW.group_id) THEN
        NEW.group_id := NEW.id;
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION incidents_grouping_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.group_id <> NEW.id THEN
        UPDATE incidents SET hit_count = hit_count + 1, updated_at = NEW.updated_at WHERE id = NEW.group_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER incidents_grouping_before BEFORE INSERT ON incidents
    FOR EACH ROW EXECUTE FUNCTION incidents_grouping_before();
CREATE TRIGGER incidents_grouping AFTER INSERT ON incidents
    FOR EACH ROW EXECUTE FUNCTION incidents_grouping_after();
