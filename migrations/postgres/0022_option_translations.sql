-- Option names in other languages (issue 22): categories, subcategories, countries and cities can carry a name
-- per locale, a JSON object of canonical locale tags to display names ({"de": "Deutschland", "pl": "Niemcy"}),
-- written by moderators (PUT /admin/options/{id}/translations/{locale}) and the seed. The option's own `name`
-- stays its name in the deployment's default locale. Read with every option row (lists resolve the name per
-- request locale); identity across translations is checked by the catalog store inside its transactions.
-- Mirrors migrations/sqlite/0022_option_translations.sql.
ALTER TABLE catalog_options ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
-- Lists cached before this change (each instance's, and the shared Redis tier's, keyed by version) carry no
-- translations: a catalog in use moves to a new version, so none of them is read again. An empty catalog stays
-- at 0 (the local profile seeds only a catalog at version 0).
UPDATE catalog_meta SET version = version + 1 WHERE version > 0;
