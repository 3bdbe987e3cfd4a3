-- A member's kind and display are copied into its membership rows, so that
-- reading a group's members is one range scan of members, the same cost at
-- any store size (it was one lookup in resources per member). The writer
-- keeps display current when a member's displayName or userName changes;
-- kind never changes.
ALTER TABLE members ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN display TEXT NOT NULL DEFAULT '';
UPDATE members SET
	kind = coalesce((SELECT r.kind FROM resources AS r WHERE r.tenant = members.tenant AND r.id = members.member_id), ''),
	display = coalesce((SELECT r.display FROM resources AS r WHERE r.tenant = members.tenant AND r.id = members.member_id), '');
