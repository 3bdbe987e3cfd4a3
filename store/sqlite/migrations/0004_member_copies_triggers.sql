-- Membership rows copy their member's kind and display (0003). Triggers keep
-- the copies right whoever writes: a binary from before 0003 (run again after
-- a downgrade) inserts membership rows without them and renames members
-- without touching them, which the current binary would then serve. The
-- current binary fills kind and display on insert itself, so for it the
-- insert trigger finds nothing to do; renames are the display trigger's job
-- alone.
CREATE TRIGGER members_fill AFTER INSERT ON members WHEN NEW.kind = ''
BEGIN
	UPDATE members SET
		kind = coalesce((SELECT r.kind FROM resources AS r WHERE r.tenant = NEW.tenant AND r.id = NEW.member_id), ''),
		display = coalesce((SELECT r.display FROM resources AS r WHERE r.tenant = NEW.tenant AND r.id = NEW.member_id), '')
	WHERE tenant = NEW.tenant AND group_id = NEW.group_id AND member_id = NEW.member_id;
END;

-- UPDATE inside a trigger may not say INDEXED BY, and without it the planner
-- scans the tenant's members by primary key: the subquery names the index
-- (TestMemberPlans checks this statement's plan).
CREATE TRIGGER members_display AFTER UPDATE OF display ON resources WHEN OLD.display IS NOT NEW.display
BEGIN
	UPDATE members SET display = coalesce(NEW.display, '')
	WHERE tenant = NEW.tenant AND member_id = NEW.id AND group_id IN (
		SELECT group_id FROM members INDEXED BY members_member WHERE tenant = NEW.tenant AND member_id = NEW.id);
END;

-- Rows an older binary may have written between 0003 and this migration.
UPDATE members SET
	kind = coalesce((SELECT r.kind FROM resources AS r WHERE r.tenant = members.tenant AND r.id = members.member_id), ''),
	display = coalesce((SELECT r.display FROM resources AS r WHERE r.tenant = members.tenant AND r.id = members.member_id), '')
WHERE kind = '';
