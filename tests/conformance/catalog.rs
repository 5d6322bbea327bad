//! The `CatalogStore` contract.

use std::sync::Arc;

use gantry_actors::catalog::OptionKind;
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
    // "Škoda" and "Skoda" are two names (two keys) with one search key: the older id comes first.
    let brands: Vec<CatalogOption> =
        ["Škoda", "Skoda", "Scania"].iter().map(|n| catalog_option(OptionKind::Brand, None, n)).collect();
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
    assert_eq!(listed_brands, vec![brands[2].clone(), brands[0].clone(), brands[1].clone()]);
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

    assert_eq!(first, SeedReport { created: OPTIONS.len(), existing: 0 });
    assert_eq!(second, SeedReport { created: 0, existing: OPTIONS.len() });
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
    assert_eq!(stored[0].name_key, "mercedes-benz");
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

sql_cases!(
    catalog: create_option_twice_returns_the_first_and_keeps_the_version,
    list_options_orders_by_search_key_and_filters_by_kind_and_parent,
    same_name_under_another_parent_or_kind_is_another_option,
    seeding_twice_creates_nothing_the_second_time,
    concurrent_creates_of_one_name_store_one_row_and_raise_the_version_once,
    concurrent_creates_of_different_names_each_raise_the_version_once,
    templates_round_trip_and_raise_the_version,
);
