//! The `CatalogStore` contract.

use std::sync::Arc;

use gantry_actors::catalog::OptionKind;
use gantry_actors::catalog::moderation::{Moderation, ModerationError};
use gantry_actors::catalog::names::normalize;
use gantry_actors::catalog::seed::{OPTIONS, SeedReport, seed};
use gantry_actors::ports::catalog::{CatalogOption, CatalogStore, Created};
use time::OffsetDateTime;
use uuid::Uuid;

/// A catalog option named `name`, normalised as the caller does, created at a whole second (so it reads
/// back unchanged); categories have an engine.
fn catalog_option(kind: OptionKind, parent: Option<&CatalogOption>, name: &str) -> CatalogOption {
    let name = normalize(name).expect("valid name");
    CatalogOption {
        id: Uuid::now_v7(),
        kind,
        parent_id: parent.map(|p| p.id),
        name: name.display,
        name_key: name.key,
        search_key: name.search,
        has_engine: kind == OptionKind::Category,
        created_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid instant"),
        created_by: None,
        hidden: false,
        pending: false,
        translations: Default::default(),
    }
}

/// Creating a name that is already there (in another spelling) returns the stored option with
/// `created = false` and leaves the version alone; a new name raises it by one.
pub async fn create_option_twice_returns_the_first_and_keeps_the_version(catalog: Arc<dyn CatalogStore>) {
    assert_eq!(catalog.catalog_version().await.expect("version"), 0);
    let volvo = catalog_option(OptionKind::Brand, None, "Volvo");

    let first = catalog.create_option(&volvo).await.expect("create");
    let again = catalog.create_option(&catalog_option(OptionKind::Brand, None, "  VOLVO ")).await.expect("again");

    assert_eq!(first, Created { option: volvo.clone(), created: true, version: 1 });
    assert_eq!(again, Created { option: volvo.clone(), created: false, version: 1 });
    assert_eq!(catalog.catalog_version().await.expect("version"), 1);
    assert_eq!(catalog.get_option(volvo.id).await.expect("get"), Some(volvo.clone()));
    assert_eq!(catalog.list_options(OptionKind::Brand, None).await.expect("list"), vec![volvo]);
    let scania = catalog.create_option(&catalog_option(OptionKind::Brand, None, "Scania")).await.expect("create");
    assert!(scania.created);
    assert_eq!(scania.version, 2);
    assert!(catalog.get_option(Uuid::now_v7()).await.expect("get").is_none());
}

/// Options list in search-key order (case and accents ignored, ties broken by id), only those of the kind
/// under the given parent; `None` lists only options without a parent.
pub async fn list_options_orders_by_search_key_and_filters_by_kind_and_parent(catalog: Arc<dyn CatalogStore>) {
    let germany = catalog_option(OptionKind::Country, None, "Germany");
    let poland = catalog_option(OptionKind::Country, None, "Poland");
    let mut create = Vec::new();
    for country in [&poland, &germany] {
        catalog.create_option(country).await.expect("create country");
    }
    for name in ["München", "zwickau", "Baden-Baden", "Köln", "Berlin", "Kiel", "Bad Tölz"] {
        create.push(catalog_option(OptionKind::City, Some(&germany), name));
    }
    let polish = [catalog_option(OptionKind::City, Some(&poland), "Łódź")];
    // "Škoda" lists by its accent-free search key, after "Sisu".
    let brands: Vec<CatalogOption> =
        ["Škoda", "Sisu", "Scania"].iter().map(|n| catalog_option(OptionKind::Brand, None, n)).collect();
    for option in create.iter().chain(&polish).chain(&brands) {
        assert!(catalog.create_option(option).await.expect("create").created);
    }

    let german_cities = catalog.list_options(OptionKind::City, Some(germany.id)).await.expect("list");
    let countries = catalog.list_options(OptionKind::Country, None).await.expect("list");
    let listed_brands = catalog.list_options(OptionKind::Brand, None).await.expect("list");

    let names = |options: &[CatalogOption]| options.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
    // glibc locales such as en_US.UTF-8 skip spaces and hyphens at first ("badtolz" > "badenbaden"); the
    // column's byte order (Postgres `COLLATE "C"`, SQLite BINARY) puts the space first whatever the locale.
    assert_eq!(names(&german_cities), ["Bad Tölz", "Baden-Baden", "Berlin", "Kiel", "Köln", "München", "zwickau"]);
    assert_eq!(countries, vec![germany.clone(), poland.clone()]);
    assert_eq!(listed_brands, vec![brands[2].clone(), brands[1].clone(), brands[0].clone()]);
    assert_eq!(catalog.list_options(OptionKind::City, Some(poland.id)).await.expect("list"), polish);
    assert!(catalog.list_options(OptionKind::City, None).await.expect("list").is_empty(), "cities have parents");
    assert!(catalog.list_options(OptionKind::Country, Some(germany.id)).await.expect("list").is_empty());
    assert_eq!(catalog.catalog_version().await.expect("version"), 13);
}

/// One name under two parents, or as another kind, is three options; a repeat under one parent is not; an
/// unknown parent or a parent on a top-level kind is refused and leaves the version alone.
pub async fn same_name_under_another_parent_or_kind_is_another_option(catalog: Arc<dyn CatalogStore>) {
    let trucks = catalog_option(OptionKind::Category, None, "Trucks");
    let trailers = catalog_option(OptionKind::Category, None, "Trailers");
    let under_trucks = catalog_option(OptionKind::Subcategory, Some(&trucks), "Tippers");
    let under_trailers = catalog_option(OptionKind::Subcategory, Some(&trailers), "Tippers");
    let top_level = catalog_option(OptionKind::Category, None, "Tippers");
    for option in [&trucks, &trailers, &under_trucks, &under_trailers, &top_level] {
        assert!(catalog.create_option(option).await.expect("create").created, "{option:?}");
    }

    let repeat = catalog
        .create_option(&catalog_option(OptionKind::Subcategory, Some(&trucks), "tippers"))
        .await
        .expect("repeat");
    let phantom = catalog_option(OptionKind::Category, None, "Never stored");
    let orphan = catalog.create_option(&catalog_option(OptionKind::Subcategory, Some(&phantom), "Orphans")).await;
    let misplaced = catalog.create_option(&catalog_option(OptionKind::Brand, Some(&trucks), "Volvo")).await;

    assert_eq!(repeat, Created { option: under_trucks.clone(), created: false, version: 5 });
    assert!(orphan.is_err(), "{orphan:?}");
    assert!(misplaced.is_err(), "{misplaced:?}");
    assert_eq!(catalog.catalog_version().await.expect("version"), 5);
    assert_eq!(catalog.list_options(OptionKind::Subcategory, Some(trailers.id)).await.expect("list"), [under_trailers]);
    let categories = catalog.list_options(OptionKind::Category, None).await.expect("list");
    assert_eq!(categories, vec![top_level, trailers, trucks]);
}

/// Seeding twice loads the starter catalog once: the second run finds every option, and the version
/// counts each option once.
pub async fn seeding_twice_creates_nothing_the_second_time(catalog: Arc<dyn CatalogStore>) {
    let first = seed(catalog.as_ref()).await.expect("first run");
    let second = seed(catalog.as_ref()).await.expect("second run");

    assert_eq!(first, SeedReport { created: OPTIONS.len(), existing: 0, translated: 0 });
    assert_eq!(second, SeedReport { created: 0, existing: OPTIONS.len(), translated: 0 });
    assert_eq!(catalog.catalog_version().await.expect("version"), OPTIONS.len() as u64);
    let categories = catalog.list_options(OptionKind::Category, None).await.expect("list");
    assert_eq!(categories.len(), OPTIONS.iter().filter(|o| o.kind == OptionKind::Category).count());
    let countries = catalog.list_options(OptionKind::Country, None).await.expect("list");
    let poland = countries.iter().find(|c| c.name == "Poland").expect("Poland");
    let cities = catalog.list_options(OptionKind::City, Some(poland.id)).await.expect("list");
    assert_eq!(cities.len(), OPTIONS.iter().filter(|o| o.parent == Some("Poland")).count());
    assert!(cities.iter().any(|c| c.name == "Łódź"));
    let brands = catalog.list_options(OptionKind::Brand, None).await.expect("list");
    let volvo = brands.iter().find(|b| b.name == "Volvo").expect("Volvo");
    let models = catalog.list_options(OptionKind::Model, Some(volvo.id)).await.expect("list");
    assert_eq!(models.len(), OPTIONS.iter().filter(|o| o.parent == Some("Volvo")).count());
    assert!(models.iter().any(|m| m.name == "FH16"));
    assert_eq!(poland.translations.get("de").map(String::as_str), Some("Polen"), "seeded with its translations");
}

/// A catalog seeded before the translations shipped gets them from the next seed: each one an option lacks is
/// added as an audited moderation change by `seed`, and the run after adds nothing.
pub async fn seeding_adds_missing_translations_to_existing_options(catalog: Arc<dyn CatalogStore>) {
    let germany = catalog_option(OptionKind::Country, None, "Germany");
    catalog.create_option(&germany).await.expect("an option from before the translations");

    let report = seed(catalog.as_ref()).await.expect("seed");
    let again = seed(catalog.as_ref()).await.expect("seed again");

    assert_eq!((report.existing, report.translated), (1, 3));
    assert_eq!(again.translated, 0);
    let stored = catalog.get_option(germany.id).await.expect("get").expect("there");
    let names: Vec<&str> = stored.translations.values().map(String::as_str).collect();
    assert_eq!(names, ["Deutschland", "Niemcy", "Германия"]);
    let audit = catalog.audit_log(5).await.expect("audit");
    assert!(audit.iter().all(|a| a.actor == "seed" && a.action == "translate" && a.option_id == germany.id));
}

/// Twenty tasks creating one name at once, each in its own spelling (normalised as the caller does), store one
/// row and raise the version once: exactly one of them created it, and all of them get that row back.
pub async fn concurrent_creates_of_one_name_store_one_row_and_raise_the_version_once(catalog: Arc<dyn CatalogStore>) {
    const TASKS: usize = 20;
    let spellings = ["Mercedes-Benz", " mercedes-benz", "MERCEDES-BENZ ", "Mercedes-benz", "mErCeDeS-bEnZ"];
    let start = Arc::new(tokio::sync::Barrier::new(TASKS));

    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (catalog, start) = (Arc::clone(&catalog), Arc::clone(&start));
            let option = catalog_option(OptionKind::Brand, None, spellings[i % spellings.len()]);
            tokio::spawn(async move {
                start.wait().await;
                catalog.create_option(&option).await.expect("create")
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(TASKS);
    for task in tasks {
        outcomes.push(task.await.expect("creating task"));
    }

    let stored = catalog.list_options(OptionKind::Brand, None).await.expect("list");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(outcomes.iter().filter(|o| o.created).count(), 1);
    assert!(outcomes.iter().all(|o| o.option == stored[0] && o.version == 1), "{outcomes:?}");
    assert_eq!(catalog.catalog_version().await.expect("version"), 1);
    assert_eq!(stored[0].name_key, "mercedes benz");
}

/// Twenty tasks creating twenty different names at once each raise the version by exactly one: the versions
/// they get back are 1 to 20, each once.
pub async fn concurrent_creates_of_different_names_each_raise_the_version_once(catalog: Arc<dyn CatalogStore>) {
    const TASKS: u64 = 20;
    let start = Arc::new(tokio::sync::Barrier::new(TASKS as usize));

    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (catalog, start) = (Arc::clone(&catalog), Arc::clone(&start));
            let option = catalog_option(OptionKind::Country, None, &format!("Country {i}"));
            tokio::spawn(async move {
                start.wait().await;
                catalog.create_option(&option).await.expect("create")
            })
        })
        .collect();
    let mut versions = Vec::with_capacity(tasks.len());
    for task in tasks {
        let outcome = task.await.expect("creating task");
        assert!(outcome.created);
        versions.push(outcome.version);
    }

    versions.sort_unstable();
    assert_eq!(versions, (1..=TASKS).collect::<Vec<_>>());
    assert_eq!(catalog.catalog_version().await.expect("version"), TASKS);
    assert_eq!(catalog.list_options(OptionKind::Country, None).await.expect("list").len(), 20);
}

/// A saved template set reads back byte for byte and raises the catalog version (shared with option
/// changes); before any save there is none. The catalog id is fixed per database and not empty.
pub async fn templates_round_trip_and_raise_the_version(catalog: Arc<dyn CatalogStore>) {
    assert_eq!(catalog.load_templates().await.expect("load"), None);
    let document = r#"{ "forms": [ ], "note": "naïve ✓" }"#;

    let version = catalog.save_templates(document).await.expect("save");
    let again = catalog.save_templates("{}").await.expect("save again");

    assert_eq!(version, 1);
    assert_eq!(again, 2);
    assert_eq!(catalog.load_templates().await.expect("load").as_deref(), Some("{}"));
    assert_eq!(catalog.catalog_version().await.expect("version"), 2);
    let id = catalog.catalog_id().await.expect("id");
    assert!(!id.is_empty());
    assert_eq!(catalog.catalog_id().await.expect("id"), id);
}

/// A catalog as 0005 stored it (keys only lower-cased): "Scània" and "Scania" were two brands, each with an
/// "R 450"/"R-450" model. The identity upgrade makes one brand (the older spelling) with one model, the merged
/// ids resolve to the survivors, the merged name gives the survivor, every merge is audited, and a second
/// run does nothing.
pub async fn identity_upgrade_merges_old_duplicates_once(catalog: Arc<dyn CatalogStore>) {
    let old_style = |kind, parent: Option<&CatalogOption>, name: &str| {
        let mut option = catalog_option(kind, parent, name);
        option.name_key = option.name.to_lowercase();
        option
    };
    let scania = old_style(OptionKind::Brand, None, "Scania");
    let mut scania2 = old_style(OptionKind::Brand, None, "Scània");
    scania2.created_at += time::Duration::seconds(1);
    let r450 = old_style(OptionKind::Model, Some(&scania), "R 450");
    let r450b = old_style(OptionKind::Model, Some(&scania2), "R-450");
    let s500 = old_style(OptionKind::Model, Some(&scania2), "S 500");
    for option in [&scania, &scania2, &r450, &r450b, &s500] {
        assert!(catalog.create_option(option).await.expect("create").created, "{option:?}");
    }

    let report = catalog.upgrade_identity().await.expect("upgrade").expect("keys were old");
    let again = catalog.upgrade_identity().await.expect("second run");

    assert_eq!(report.merged, vec![(r450b.id, r450.id), (scania2.id, scania.id)]);
    assert_eq!(report.version, 6);
    assert!(again.is_none(), "the upgrade is recorded and runs once");
    let brands = catalog.list_options(OptionKind::Brand, None).await.expect("list");
    assert_eq!(
        brands.iter().map(|b| (b.id, b.name.as_str(), b.name_key.as_str())).collect::<Vec<_>>(),
        [(scania.id, "Scania", "scania")]
    );
    let models = catalog.list_options(OptionKind::Model, Some(scania.id)).await.expect("list");
    assert_eq!(models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["R 450", "S 500"]);
    let resolved = catalog.resolve_option(scania2.id).await.expect("resolve").expect("resolves");
    assert_eq!((resolved.option.id, resolved.merged_from), (scania.id, Some(scania2.id)));
    assert_eq!(catalog.resolve_option(r450b.id).await.expect("resolve").expect("resolves").option.id, r450.id);
    let recreated = catalog.create_option(&catalog_option(OptionKind::Brand, None, "SCÀNIA")).await.expect("create");
    assert_eq!((recreated.option.id, recreated.created), (scania.id, false));
    let audit = catalog.audit_log(10).await.expect("audit");
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(|a| a.actor == "identity_upgrade" && a.action == "identity_merge"));
}

/// Issue 20: look-alikes stored before names were checked — a Cyrillic "Vоlvo" with the key version 1 gave
/// it — merge into the real "Volvo" at the identity upgrade, the visible spelling surviving although it is
/// younger; a Greek spelling then creates nothing; and a look-alike an operator had merged before the
/// upgrade (its alias keeps a version-1 key) still gives its target.
pub async fn identity_upgrade_folds_look_alikes_into_the_real_name(catalog: Arc<dyn CatalogStore>) {
    let stored_by_v1 = |name: &str, age: i64| {
        let mut option = catalog_option(OptionKind::Brand, None, name);
        option.name_key = name.to_lowercase();
        option.created_at += time::Duration::seconds(age);
        option
    };
    let fake = stored_by_v1("V\u{043E}lvo", 0);
    let real = stored_by_v1("Volvo", 1);
    let fake_daf = stored_by_v1("D\u{0430}f", 0);
    let daf = stored_by_v1("Dafco", 0);
    for option in [&fake, &real, &fake_daf, &daf] {
        assert!(catalog.create_option(option).await.expect("create").created, "{option:?}");
    }
    catalog.moderate(&Moderation::Merge { from: fake_daf.id, into: daf.id }, "alice").await.expect("merge");

    let report = catalog.upgrade_identity().await.expect("upgrade").expect("keys were old");

    assert_eq!(report.merged, vec![(fake.id, real.id)]);
    let brands = catalog.list_options(OptionKind::Brand, None).await.expect("list");
    let names: Vec<_> = brands.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["Dafco", "Volvo"]);
    assert_eq!(catalog.resolve_option(fake.id).await.expect("resolve").expect("resolves").option.id, real.id);
    let greek = catalog.create_option(&catalog_option(OptionKind::Brand, None, "V\u{03BF}lvo")).await.expect("create");
    assert_eq!((greek.option.id, greek.created), (real.id, false));
    let again = catalog.create_option(&catalog_option(OptionKind::Brand, None, "Daf")).await.expect("create");
    assert_eq!((again.option.id, again.created), (daf.id, false), "the alias key was brought to version 2");
}

/// Merging A into B: A's children move to B (a child with a twin under B is merged into the twin), A's id and
/// name resolve to B, the version rises once and the change is audited with who asked.
pub async fn merge_moves_children_and_keeps_ids_resolvable(catalog: Arc<dyn CatalogStore>) {
    let ginaf = catalog_option(OptionKind::Brand, None, "Ginaf");
    let ginaff = catalog_option(OptionKind::Brand, None, "Ginaff");
    let x3232 = catalog_option(OptionKind::Model, Some(&ginaf), "X 3232");
    let x3232b = catalog_option(OptionKind::Model, Some(&ginaff), "X-3232");
    let c4241 = catalog_option(OptionKind::Model, Some(&ginaff), "C 4241");
    for option in [&ginaf, &ginaff, &x3232, &x3232b, &c4241] {
        catalog.create_option(option).await.expect("create");
    }

    let merged =
        catalog.moderate(&Moderation::Merge { from: ginaff.id, into: ginaf.id }, "alice").await.expect("merge");

    assert_eq!(merged.option.id, ginaf.id);
    assert_eq!(merged.version, 6);
    assert_eq!((merged.audit.actor.as_str(), merged.audit.action.as_str()), ("alice", "merge"));
    let brands = catalog.list_options(OptionKind::Brand, None).await.expect("list");
    assert_eq!(brands.iter().map(|b| b.id).collect::<Vec<_>>(), [ginaf.id]);
    let models = catalog.list_options(OptionKind::Model, Some(ginaf.id)).await.expect("list");
    assert_eq!(models.iter().map(|m| m.id).collect::<Vec<_>>(), [c4241.id, x3232.id]);
    assert_eq!(catalog.resolve_option(ginaff.id).await.expect("resolve").expect("some").option.id, ginaf.id);
    assert_eq!(catalog.resolve_option(x3232b.id).await.expect("resolve").expect("some").option.id, x3232.id);
    let again = catalog.create_option(&catalog_option(OptionKind::Brand, None, "ginaff")).await.expect("create");
    assert_eq!((again.option.id, again.created), (ginaf.id, false));
    let refused = catalog.moderate(&Moderation::Merge { from: ginaf.id, into: x3232.id }, "alice").await;
    assert_eq!(refused, Err(ModerationError::KindMismatch));
    assert_eq!(catalog.catalog_version().await.expect("version"), 6, "a refused change leaves the version");
}

/// Rename, hide, approve and the engine flag: each raises the version once and is audited; a rename onto an
/// existing name is refused naming that option; hidden options are not listed but resolve.
pub async fn flags_and_renames_are_audited(catalog: Arc<dyn CatalogStore>) {
    let trucks = catalog_option(OptionKind::Category, None, "Trucks");
    let volvo = catalog_option(OptionKind::Brand, None, "Volvo");
    let mut daf = catalog_option(OptionKind::Brand, None, "DAF");
    daf.pending = true;
    daf.created_by = Some(Uuid::now_v7());
    for option in [&trucks, &volvo, &daf] {
        catalog.create_option(option).await.expect("create");
    }
    let name = normalize("Volvo Trucks").expect("valid");

    let taken = catalog.moderate(&Moderation::Rename { id: daf.id, name: normalize("volvo").expect("v") }, "a").await;
    let renamed = catalog.moderate(&Moderation::Rename { id: volvo.id, name }, "a").await.expect("rename");
    let hidden = catalog.moderate(&Moderation::SetHidden { id: volvo.id, hidden: true }, "b").await.expect("hide");
    let approved = catalog.moderate(&Moderation::Approve { id: daf.id }, "c").await.expect("approve");
    let engine = Moderation::SetEngine { id: trucks.id, has_engine: false, overrides: Vec::new() };
    let engine = catalog.moderate(&engine, "d").await;
    let not_category = Moderation::SetEngine { id: daf.id, has_engine: true, overrides: Vec::new() };
    let not_category = catalog.moderate(&not_category, "d").await;

    assert_eq!(taken, Err(ModerationError::NameTaken { existing: volvo.id }));
    assert_eq!(renamed.option.name, "Volvo Trucks");
    assert!(hidden.option.hidden);
    assert!(!approved.option.pending);
    assert!(!engine.expect("engine").option.has_engine);
    assert_eq!(not_category, Err(ModerationError::NotCategory));
    assert_eq!(catalog.catalog_version().await.expect("version"), 7);
    let brands = catalog.list_options(OptionKind::Brand, None).await.expect("list");
    assert_eq!(brands.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["DAF"]);
    let resolved = catalog.resolve_option(volvo.id).await.expect("resolve").expect("hidden ids resolve");
    assert!(resolved.option.hidden && resolved.merged_from.is_none());
    let audit = catalog.audit_log(10).await.expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["set_has_engine", "approve", "hide", "rename"]);
    assert_eq!(audit[3].detail["to"], "Volvo Trucks");
    let recent = catalog.recent_options(daf.created_by, None, 10).await.expect("recent");
    assert_eq!(recent.iter().map(|o| o.id).collect::<Vec<_>>(), [daf.id]);
    assert_eq!(catalog.recent_options(None, None, 2).await.expect("recent").len(), 2);
}

/// A pending option drafted by `creator` (a new account's).
fn draft(kind: OptionKind, parent: Option<&CatalogOption>, name: &str, creator: Uuid) -> CatalogOption {
    CatalogOption { pending: true, created_by: Some(creator), ..catalog_option(kind, parent, name) }
}

/// Issue 25.9: a pending option takes no name from anyone. Two new accounts drafting one name get a draft each
/// (the same creator again gets theirs back); an established user's create of it is public although drafts
/// exist; a draft created once the name is public gets the public option. Approving a draft while a public
/// option has its name merges the draft (and its models) into it; approving one with no public twin makes it
/// public and merges the other drafts into it — each audited, every merged id resolving to the survivor.
pub async fn drafts_of_one_name_stay_their_creators_until_an_approval_merges_them(catalog: Arc<dyn CatalogStore>) {
    let (alice, carol, dave) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let by_alice = catalog.create_option(&draft(OptionKind::Brand, None, "Komatsu Nova", alice)).await.expect("a");
    let by_carol = catalog.create_option(&draft(OptionKind::Brand, None, "komatsu-nova", carol)).await.expect("c");
    let again = catalog.create_option(&draft(OptionKind::Brand, None, "KOMATSU NOVA", alice)).await.expect("again");
    assert!(by_alice.created && by_carol.created, "each new account gets a draft of its own");
    assert_ne!(by_alice.option.id, by_carol.option.id);
    assert!(by_carol.option.pending && by_carol.option.created_by == Some(carol));
    assert_eq!((again.option.id, again.created), (by_alice.option.id, false), "the creator gets theirs back");
    let alices_model = draft(OptionKind::Model, Some(&by_alice.option), "NX-1", alice);
    catalog.create_option(&alices_model).await.expect("a model under the draft");

    let public = catalog.create_option(&catalog_option(OptionKind::Brand, None, "Komatsu Nova")).await.expect("b");
    assert!(public.created && !public.option.pending, "an established user's create is public");
    let late = catalog.create_option(&draft(OptionKind::Brand, None, "Komatsu Nova", dave)).await.expect("late");
    assert_eq!((late.option.id, late.created), (public.option.id, false), "a public name is nobody's draft");

    let approved =
        catalog.moderate(&Moderation::Approve { id: by_alice.option.id }, "jane").await.expect("approve alice's");
    assert_eq!(approved.option.id, public.option.id, "the draft joined the public option of its name");
    assert_eq!(approved.audit.detail["merged_into"], serde_json::json!(public.option.id));
    let resolved = catalog.resolve_option(by_alice.option.id).await.expect("resolve").expect("resolves");
    assert_eq!((resolved.option.id, resolved.merged_from), (public.option.id, Some(by_alice.option.id)));
    let models = catalog.list_options(OptionKind::Model, Some(public.option.id)).await.expect("models");
    assert_eq!(models.iter().map(|m| m.id).collect::<Vec<_>>(), [alices_model.id], "its models moved along");

    // Without a public twin: the approved draft goes public and takes the other drafts in.
    let erin = catalog.create_option(&draft(OptionKind::Country, None, "Atlantis", alice)).await.expect("e");
    let frank = catalog.create_option(&draft(OptionKind::Country, None, "ATLANTIS", carol)).await.expect("f");
    let approved = catalog.moderate(&Moderation::Approve { id: erin.option.id }, "jane").await.expect("approve");
    assert_eq!(approved.option.id, erin.option.id);
    assert!(!approved.option.pending);
    assert_eq!(approved.audit.detail["merged"], serde_json::json!([frank.option.id]));
    let resolved = catalog.resolve_option(frank.option.id).await.expect("resolve").expect("resolves");
    assert_eq!(resolved.option.id, erin.option.id);
    let countries = catalog.list_options(OptionKind::Country, None).await.expect("countries");
    assert_eq!(countries.iter().map(|c| c.id).collect::<Vec<_>>(), [erin.option.id], "one option per name");
}

/// Issue 25.11: an operator's create is public at once, audited as `create`, merges the drafts of its name, and
/// refuses a name that is there already (naming the option) or a parent that is missing or pending.
pub async fn an_operators_create_is_audited_and_refuses_taken_names(catalog: Arc<dyn CatalogStore>) {
    let user = Uuid::now_v7();
    let drafted = catalog.create_option(&draft(OptionKind::Category, None, "Road sweepers", user)).await.expect("d");
    let sweepers = catalog_option(OptionKind::Category, None, "Road Sweepers");
    let created = catalog.moderate(&Moderation::Create { option: sweepers.clone() }, "jane").await.expect("create");
    assert_eq!((created.option.id, created.option.pending), (sweepers.id, false));
    assert_eq!((created.audit.action.as_str(), created.audit.actor.as_str()), ("create", "jane"));
    assert_eq!(created.audit.detail["merged"], serde_json::json!([drafted.option.id]));
    assert!(created.affected.contains(&(OptionKind::Category, None)));

    let again = catalog_option(OptionKind::Category, None, "road-sweepers");
    let taken = catalog.moderate(&Moderation::Create { option: again }, "jane").await;
    assert_eq!(taken.map(|m| m.option.id), Err(ModerationError::NameTaken { existing: sweepers.id }));
    let pending_parent = catalog.create_option(&draft(OptionKind::Brand, None, "Nova", user)).await.expect("p");
    let model = catalog_option(OptionKind::Model, Some(&pending_parent.option), "X1");
    let orphan = catalog.moderate(&Moderation::Create { option: model }, "jane").await;
    assert_eq!(orphan.map(|m| m.option.id), Err(ModerationError::UnknownParent));
    let audit = catalog.audit_log(10).await.expect("audit");
    assert_eq!(audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["create"], "refusals change nothing");
}

/// Translations (issue 22): stored with the option and read back by every read; a moderator's translation is
/// audited and raises the version once; a name that is another option's translation is that option's identity
/// (a user's create returns it, an operator's create, a rename or another translation onto it is refused naming
/// it); brands keep one name; removing a translation is audited too.
pub async fn translations_are_stored_audited_and_count_as_identity(catalog: Arc<dyn CatalogStore>) {
    let mut germany = catalog_option(OptionKind::Country, None, "Germany");
    germany.translations.insert("de".into(), "Deutschland".into());
    let france = catalog_option(OptionKind::Country, None, "France");
    let volvo = catalog_option(OptionKind::Brand, None, "Volvo");
    for option in [&germany, &france, &volvo] {
        catalog.create_option(option).await.expect("create");
    }
    let version = catalog.catalog_version().await.expect("version");

    let translate = |id, locale: &str, name: Option<&str>| Moderation::Translate {
        id,
        locale: locale.into(),
        name: name.map(|n| normalize(n).expect("valid")),
    };
    let polish = catalog.moderate(&translate(germany.id, "pl", Some("Niemcy")), "maria").await.expect("translate");
    assert_eq!(polish.option.translations.get("pl").map(String::as_str), Some("Niemcy"));
    assert_eq!(polish.option.translations.get("de").map(String::as_str), Some("Deutschland"));
    assert_eq!((polish.audit.action.as_str(), polish.audit.actor.as_str()), ("translate", "maria"));
    assert_eq!(polish.audit.detail["locale"], "pl");
    assert_eq!(polish.audit.detail["to"], "Niemcy");
    assert_eq!(polish.version, version + 1);
    assert_eq!(polish.affected, vec![(OptionKind::Country, None)]);
    let listed = catalog.list_options(OptionKind::Country, None).await.expect("list");
    let listed = listed.iter().find(|o| o.id == germany.id).expect("listed");
    assert_eq!(listed.translations.len(), 2, "{listed:?}");

    let mut by_translation = catalog_option(OptionKind::Country, None, "DEUTSCHLAND");
    by_translation.created_by = Some(Uuid::now_v7());
    let found = catalog.create_option(&by_translation).await.expect("create");
    assert_eq!((found.option.id, found.created, found.version), (germany.id, false, version + 1));
    let operator = Moderation::Create { option: catalog_option(OptionKind::Country, None, "Niemcy") };
    let operator = catalog.moderate(&operator, "j").await;
    assert_eq!(operator.map(|m| m.option.id), Err(ModerationError::NameTaken { existing: germany.id }));
    let onto = catalog.moderate(&translate(france.id, "de", Some("deutschland")), "j").await;
    assert_eq!(onto.map(|m| m.option.id), Err(ModerationError::NameTaken { existing: germany.id }));
    let renamed = Moderation::Rename { id: france.id, name: normalize("Niemcy").expect("v") };
    let renamed = catalog.moderate(&renamed, "j").await;
    assert_eq!(renamed.map(|m| m.option.id), Err(ModerationError::NameTaken { existing: germany.id }));
    let onto_name = catalog.moderate(&translate(france.id, "pl", Some("Germany")), "j").await;
    assert_eq!(onto_name.map(|m| m.option.id), Err(ModerationError::NameTaken { existing: germany.id }));
    let brand = catalog.moderate(&translate(volvo.id, "de", Some("Wolwo")), "j").await;
    assert_eq!(brand.map(|m| m.option.id), Err(ModerationError::NotTranslatable));
    assert_eq!(catalog.catalog_version().await.expect("version"), version + 1, "refusals change nothing");

    let removed = catalog.moderate(&translate(germany.id, "de", None), "maria").await.expect("remove");
    assert_eq!(removed.audit.action, "remove_translation");
    assert_eq!(removed.audit.detail["from"], "Deutschland");
    let stored = catalog.get_option(germany.id).await.expect("get").expect("there");
    assert_eq!(stored.translations.keys().collect::<Vec<_>>(), ["pl"]);
    let again = catalog.create_option(&catalog_option(OptionKind::Country, None, "Deutschland")).await.expect("c");
    assert!(again.created, "no longer Germany's name: a new option");
}

sql_cases!(
    catalog: translations_are_stored_audited_and_count_as_identity,
    seeding_adds_missing_translations_to_existing_options,
    identity_upgrade_merges_old_duplicates_once,
    identity_upgrade_folds_look_alikes_into_the_real_name,
    drafts_of_one_name_stay_their_creators_until_an_approval_merges_them,
    an_operators_create_is_audited_and_refuses_taken_names,
    merge_moves_children_and_keeps_ids_resolvable,
    flags_and_renames_are_audited,
    create_option_twice_returns_the_first_and_keeps_the_version,
    list_options_orders_by_search_key_and_filters_by_kind_and_parent,
    same_name_under_another_parent_or_kind_is_another_option,
    seeding_twice_creates_nothing_the_second_time,
    concurrent_creates_of_one_name_store_one_row_and_raise_the_version_once,
    concurrent_creates_of_different_names_each_raise_the_version_once,
    templates_round_trip_and_raise_the_version,
);
