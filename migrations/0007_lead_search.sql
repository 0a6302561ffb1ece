-- Search over leads' e-mail, names and company without reading every lead: an FTS5 index with the
-- trigram tokenizer, which serves LIKE '%…%' (3 characters or more) from the index. Its rowid is the
-- lead's rowid, so keeping it in step costs a lookup, not a scan. Triggers keep it in the same
-- transaction as every write of a lead, whichever code path writes it.
CREATE VIRTUAL TABLE `lead_search` USING fts5(`body`, tokenize = 'trigram');
--> statement-breakpoint
INSERT INTO `lead_search` (`rowid`, `body`)
SELECT `rowid`, `email` || ' ' || coalesce(`profile` ->> '$.firstName', '') || ' ' || coalesce(`profile` ->> '$.lastName', '') || ' ' || coalesce(`profile` ->> '$.company', '')
FROM `leads`;
--> statement-breakpoint
CREATE TRIGGER `leads_search_insert` AFTER INSERT ON `leads` BEGIN
  INSERT INTO `lead_search` (`rowid`, `body`)
  VALUES (new.`rowid`, new.`email` || ' ' || coalesce(new.`profile` ->> '$.firstName', '') || ' ' || coalesce(new.`profile` ->> '$.lastName', '') || ' ' || coalesce(new.`profile` ->> '$.company', ''));
END;
--> statement-breakpoint
-- Rescoring rewrites the profile column with the same value: only a real change touches the index.
CREATE TRIGGER `leads_search_update` AFTER UPDATE OF `email`, `profile` ON `leads`
WHEN old.`email` IS NOT new.`email` OR old.`profile` IS NOT new.`profile` BEGIN
  DELETE FROM `lead_search` WHERE `rowid` = old.`rowid`;
  INSERT INTO `lead_search` (`rowid`, `body`)
  VALUES (new.`rowid`, new.`email` || ' ' || coalesce(new.`profile` ->> '$.firstName', '') || ' ' || coalesce(new.`profile` ->> '$.lastName', '') || ' ' || coalesce(new.`profile` ->> '$.company', ''));
END;
--> statement-breakpoint
CREATE TRIGGER `leads_search_delete` AFTER DELETE ON `leads` BEGIN
  DELETE FROM `lead_search` WHERE `rowid` = old.`rowid`;
END;
