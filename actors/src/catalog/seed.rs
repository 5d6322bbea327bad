//! The starter catalog of a European machinery marketplace (categories with their subcategories, brands with
//! their models, countries with their cities), its names in German, Polish and Russian ([`translations`]), and
//! [`seed`], which loads it into a [`CatalogStore`].
//!
//! The data is const and names each child's parent by name; the tests below check that it is consistent
//! (parents exist with the right kind, names are already in normal form, no two options share a key under one
//! parent), so [`seed`] can rely on it.

pub mod translations;

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;
use uuid::Uuid;

use super::OptionKind;
use super::names::normalize;
use crate::ports::Unavailable;
use crate::ports::catalog::{CatalogOption, CatalogStore, Moderation};

/// One option of the starter catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOption {
    /// Kind.
    pub kind: OptionKind,
    /// Display name, in normal form.
    pub name: &'static str,
    /// The parent's name (an option of `kind.parent_kind()`), for child kinds.
    pub parent: Option<&'static str>,
    /// Categories only: whether listings of it have an engine.
    pub has_engine: bool,
}

/// A category.
const fn category(name: &'static str, has_engine: bool) -> SeedOption {
    SeedOption { kind: OptionKind::Category, name, parent: None, has_engine }
}

/// A subcategory of the category `parent`.
const fn subcategory(parent: &'static str, name: &'static str) -> SeedOption {
    SeedOption { kind: OptionKind::Subcategory, name, parent: Some(parent), has_engine: false }
}

/// A brand.
const fn brand(name: &'static str) -> SeedOption {
    SeedOption { kind: OptionKind::Brand, name, parent: None, has_engine: false }
}

/// A model of the brand `parent`.
const fn model(parent: &'static str, name: &'static str) -> SeedOption {
    SeedOption { kind: OptionKind::Model, name, parent: Some(parent), has_engine: false }
}

/// A country.
const fn country(name: &'static str) -> SeedOption {
    SeedOption { kind: OptionKind::Country, name, parent: None, has_engine: false }
}

/// A city of the country `parent`.
const fn city(parent: &'static str, name: &'static str) -> SeedOption {
    SeedOption { kind: OptionKind::City, name, parent: Some(parent), has_engine: false }
}

/// The starter catalog. Cities carry their local names and spelling.
pub const OPTIONS: &[SeedOption] = &[
    // Categories.
    category("Trucks", true),
    category("Tractor units", true),
    category("Semi-trailers", false),
    category("Trailers", false),
    category("Vans", true),
    category("Buses", true),
    category("Agricultural machinery", true),
    category("Tractors", true),
    category("Construction machinery", true),
    category("Forklifts", true),
    category("Cranes", true),
    category("Forestry machinery", true),
    category("Containers", false),
    // Subcategories.
    subcategory("Trucks", "Tipper trucks"),
    subcategory("Trucks", "Box trucks"),
    subcategory("Trucks", "Curtainsider trucks"),
    subcategory("Trucks", "Refrigerated trucks"),
    subcategory("Trucks", "Tank trucks"),
    subcategory("Trucks", "Car transporters"),
    subcategory("Trucks", "Flatbed trucks"),
    subcategory("Trucks", "Hook lift trucks"),
    subcategory("Tractor units", "Standard tractor units"),
    subcategory("Tractor units", "Low deck tractor units"),
    subcategory("Tractor units", "Heavy haulage tractor units"),
    subcategory("Tractor units", "ADR tractor units"),
    subcategory("Semi-trailers", "Curtainsider semi-trailers"),
    subcategory("Semi-trailers", "Refrigerated semi-trailers"),
    subcategory("Semi-trailers", "Tipper semi-trailers"),
    subcategory("Semi-trailers", "Low loader semi-trailers"),
    subcategory("Semi-trailers", "Tank semi-trailers"),
    subcategory("Semi-trailers", "Container chassis"),
    subcategory("Semi-trailers", "Walking floor semi-trailers"),
    subcategory("Trailers", "Curtainsider trailers"),
    subcategory("Trailers", "Tipper trailers"),
    subcategory("Trailers", "Low loader trailers"),
    subcategory("Trailers", "Flatbed trailers"),
    subcategory("Trailers", "Car transporter trailers"),
    subcategory("Trailers", "Agricultural trailers"),
    subcategory("Vans", "Panel vans"),
    subcategory("Vans", "Refrigerated vans"),
    subcategory("Vans", "Box vans"),
    subcategory("Vans", "Dropside vans"),
    subcategory("Vans", "Crew vans"),
    subcategory("Vans", "Tipper vans"),
    subcategory("Buses", "City buses"),
    subcategory("Buses", "Coaches"),
    subcategory("Buses", "Intercity buses"),
    subcategory("Buses", "Minibuses"),
    subcategory("Buses", "Double-decker buses"),
    subcategory("Agricultural machinery", "Combine harvesters"),
    subcategory("Agricultural machinery", "Forage harvesters"),
    subcategory("Agricultural machinery", "Balers"),
    subcategory("Agricultural machinery", "Mowers"),
    subcategory("Agricultural machinery", "Sprayers"),
    subcategory("Agricultural machinery", "Seed drills"),
    subcategory("Agricultural machinery", "Ploughs"),
    subcategory("Tractors", "Wheeled tractors"),
    subcategory("Tractors", "Crawler tractors"),
    subcategory("Tractors", "Compact tractors"),
    subcategory("Tractors", "Vineyard tractors"),
    subcategory("Construction machinery", "Excavators"),
    subcategory("Construction machinery", "Wheel loaders"),
    subcategory("Construction machinery", "Bulldozers"),
    subcategory("Construction machinery", "Mini excavators"),
    subcategory("Construction machinery", "Backhoe loaders"),
    subcategory("Construction machinery", "Skid steer loaders"),
    subcategory("Construction machinery", "Telehandlers"),
    subcategory("Construction machinery", "Dumpers"),
    subcategory("Construction machinery", "Road rollers"),
    subcategory("Construction machinery", "Graders"),
    subcategory("Forklifts", "Diesel forklifts"),
    subcategory("Forklifts", "Electric forklifts"),
    subcategory("Forklifts", "LPG forklifts"),
    subcategory("Forklifts", "Reach trucks"),
    subcategory("Forklifts", "Pallet trucks"),
    subcategory("Forklifts", "Order pickers"),
    subcategory("Cranes", "Mobile cranes"),
    subcategory("Cranes", "Tower cranes"),
    subcategory("Cranes", "Crawler cranes"),
    subcategory("Cranes", "Truck-mounted cranes"),
    subcategory("Forestry machinery", "Forestry harvesters"),
    subcategory("Forestry machinery", "Forwarders"),
    subcategory("Forestry machinery", "Skidders"),
    subcategory("Forestry machinery", "Wood chippers"),
    subcategory("Containers", "20 ft containers"),
    subcategory("Containers", "40 ft containers"),
    subcategory("Containers", "Refrigerated containers"),
    subcategory("Containers", "Tank containers"),
    // Brands.
    brand("Volvo"),
    brand("Scania"),
    brand("MAN"),
    brand("DAF"),
    brand("Mercedes-Benz"),
    brand("Iveco"),
    brand("Renault"),
    brand("Ford"),
    brand("Volkswagen"),
    brand("Tatra"),
    brand("Setra"),
    brand("Neoplan"),
    brand("Solaris"),
    brand("Caterpillar"),
    brand("Komatsu"),
    brand("JCB"),
    brand("Liebherr"),
    brand("Hitachi"),
    brand("Doosan"),
    brand("Bobcat"),
    brand("John Deere"),
    brand("Fendt"),
    brand("Claas"),
    brand("New Holland"),
    brand("Case IH"),
    brand("Massey Ferguson"),
    brand("Deutz-Fahr"),
    brand("Kubota"),
    brand("Zetor"),
    brand("Krone"),
    brand("Schmitz Cargobull"),
    brand("Kögel"),
    brand("Linde"),
    brand("Toyota"),
    brand("Jungheinrich"),
    brand("Still"),
    brand("Manitou"),
    // Models.
    model("Volvo", "FH"),
    model("Volvo", "FH16"),
    model("Volvo", "FM"),
    model("Volvo", "FMX"),
    model("Volvo", "FL"),
    model("Volvo", "EC220E"),
    model("Volvo", "L120H"),
    model("Scania", "R"),
    model("Scania", "S"),
    model("Scania", "G"),
    model("Scania", "P"),
    model("Scania", "L"),
    model("MAN", "TGX"),
    model("MAN", "TGS"),
    model("MAN", "TGM"),
    model("MAN", "TGL"),
    model("MAN", "TGE"),
    model("MAN", "Lion's City"),
    model("DAF", "XF"),
    model("DAF", "XG"),
    model("DAF", "XG+"),
    model("DAF", "XD"),
    model("DAF", "CF"),
    model("DAF", "LF"),
    model("Mercedes-Benz", "Actros"),
    model("Mercedes-Benz", "Arocs"),
    model("Mercedes-Benz", "Atego"),
    model("Mercedes-Benz", "Antos"),
    model("Mercedes-Benz", "Econic"),
    model("Mercedes-Benz", "Unimog"),
    model("Mercedes-Benz", "Sprinter"),
    model("Mercedes-Benz", "Vito"),
    model("Mercedes-Benz", "Citaro"),
    model("Mercedes-Benz", "Tourismo"),
    model("Iveco", "S-Way"),
    model("Iveco", "X-Way"),
    model("Iveco", "Stralis"),
    model("Iveco", "Eurocargo"),
    model("Iveco", "Trakker"),
    model("Iveco", "Daily"),
    model("Renault", "T"),
    model("Renault", "C"),
    model("Renault", "K"),
    model("Renault", "D"),
    model("Renault", "Master"),
    model("Renault", "Trafic"),
    model("Ford", "Transit"),
    model("Ford", "Transit Custom"),
    model("Ford", "F-MAX"),
    model("Ford", "Ranger"),
    model("Volkswagen", "Crafter"),
    model("Volkswagen", "Transporter"),
    model("Volkswagen", "Caddy"),
    model("Volkswagen", "Amarok"),
    model("Tatra", "Phoenix"),
    model("Tatra", "Force"),
    model("Setra", "S 515 HD"),
    model("Setra", "S 516 HD"),
    model("Setra", "S 531 DT"),
    model("Setra", "S 415 LE business"),
    model("Neoplan", "Tourliner"),
    model("Neoplan", "Cityliner"),
    model("Neoplan", "Skyliner"),
    model("Solaris", "Urbino 12"),
    model("Solaris", "Urbino 18"),
    model("Solaris", "Urbino 12 electric"),
    model("Caterpillar", "320"),
    model("Caterpillar", "336"),
    model("Caterpillar", "308"),
    model("Caterpillar", "950M"),
    model("Caterpillar", "D6"),
    model("Caterpillar", "432"),
    model("Caterpillar", "140M"),
    model("Komatsu", "PC210"),
    model("Komatsu", "PC360"),
    model("Komatsu", "PC55MR"),
    model("Komatsu", "WA380"),
    model("Komatsu", "D65"),
    model("JCB", "3CX"),
    model("JCB", "4CX"),
    model("JCB", "JS220"),
    model("JCB", "531-70"),
    model("JCB", "540-170"),
    model("JCB", "Fastrac 4220"),
    model("Liebherr", "R 926"),
    model("Liebherr", "A 918"),
    model("Liebherr", "L 566"),
    model("Liebherr", "LTM 1090-4.2"),
    model("Liebherr", "81 K.1"),
    model("Hitachi", "ZX210"),
    model("Hitachi", "ZX350"),
    model("Hitachi", "ZX85US"),
    model("Hitachi", "ZW180"),
    model("Doosan", "DX225LC"),
    model("Doosan", "DX140W"),
    model("Doosan", "DL250"),
    model("Bobcat", "S650"),
    model("Bobcat", "E35"),
    model("Bobcat", "T590"),
    model("John Deere", "6R"),
    model("John Deere", "7R"),
    model("John Deere", "8R"),
    model("John Deere", "6M"),
    model("John Deere", "S790"),
    model("Fendt", "313 Vario"),
    model("Fendt", "724 Vario"),
    model("Fendt", "942 Vario"),
    model("Fendt", "1050 Vario"),
    model("Fendt", "IDEAL 9T"),
    model("Claas", "Arion 660"),
    model("Claas", "Axion 870"),
    model("Claas", "Xerion 5000"),
    model("Claas", "Lexion 8900"),
    model("Claas", "Jaguar 960"),
    model("Claas", "Quadrant 5300"),
    model("New Holland", "T5.120"),
    model("New Holland", "T6.180"),
    model("New Holland", "T7.270"),
    model("New Holland", "CR10.90"),
    model("New Holland", "FR780"),
    model("New Holland", "BigBaler 1290"),
    model("Case IH", "Farmall 75C"),
    model("Case IH", "Puma 185"),
    model("Case IH", "Optum 300"),
    model("Case IH", "Magnum 340"),
    model("Case IH", "Quadtrac 620"),
    model("Case IH", "Axial-Flow 9250"),
    model("Massey Ferguson", "5S.145"),
    model("Massey Ferguson", "6S.180"),
    model("Massey Ferguson", "7S.210"),
    model("Massey Ferguson", "8S.265"),
    model("Deutz-Fahr", "5105"),
    model("Deutz-Fahr", "6165 RC Shift"),
    model("Deutz-Fahr", "7250 TTV"),
    model("Deutz-Fahr", "C9306 TSB"),
    model("Kubota", "M5-111"),
    model("Kubota", "M7-173"),
    model("Kubota", "KX057-5"),
    model("Kubota", "U27-4"),
    model("Zetor", "Major"),
    model("Zetor", "Proxima"),
    model("Zetor", "Forterra"),
    model("Zetor", "Crystal"),
    model("Krone", "BiG X 1180"),
    model("Krone", "BiG Pack 1290"),
    model("Krone", "EasyCut F 400"),
    model("Krone", "Comprima V 150 XC"),
    model("Krone", "Profi Liner"),
    model("Krone", "Cool Liner"),
    model("Krone", "Box Liner"),
    model("Schmitz Cargobull", "S.CS"),
    model("Schmitz Cargobull", "S.KO COOL"),
    model("Schmitz Cargobull", "S.KI"),
    model("Kögel", "Cargo"),
    model("Kögel", "Mega"),
    model("Kögel", "Cool"),
    model("Kögel", "Port 45"),
    model("Linde", "H25D"),
    model("Linde", "E20"),
    model("Linde", "R16"),
    model("Linde", "T20 SP"),
    model("Toyota", "Tonero"),
    model("Toyota", "Traigo 80"),
    model("Toyota", "Proace"),
    model("Toyota", "Hilux"),
    model("Jungheinrich", "EFG 216"),
    model("Jungheinrich", "DFG 425"),
    model("Jungheinrich", "ETV 216"),
    model("Jungheinrich", "EJE 116"),
    model("Still", "RX 20"),
    model("Still", "RX 60"),
    model("Still", "FM-X"),
    model("Manitou", "MT 1840"),
    model("Manitou", "MLT 737"),
    model("Manitou", "MRT 2550"),
    model("Manitou", "MI 25 D"),
    // Countries.
    country("Germany"),
    country("Poland"),
    country("Netherlands"),
    country("France"),
    country("Italy"),
    country("Spain"),
    country("Czechia"),
    country("Slovakia"),
    country("Lithuania"),
    country("Belgium"),
    country("Austria"),
    country("Hungary"),
    country("Romania"),
    country("Sweden"),
    country("Denmark"),
    // Cities.
    city("Germany", "Berlin"),
    city("Germany", "Hamburg"),
    city("Germany", "München"),
    city("Germany", "Köln"),
    city("Germany", "Frankfurt am Main"),
    city("Germany", "Stuttgart"),
    city("Germany", "Düsseldorf"),
    city("Germany", "Leipzig"),
    city("Poland", "Warszawa"),
    city("Poland", "Kraków"),
    city("Poland", "Łódź"),
    city("Poland", "Wrocław"),
    city("Poland", "Poznań"),
    city("Poland", "Gdańsk"),
    city("Poland", "Szczecin"),
    city("Poland", "Katowice"),
    city("Netherlands", "Amsterdam"),
    city("Netherlands", "Rotterdam"),
    city("Netherlands", "Den Haag"),
    city("Netherlands", "Utrecht"),
    city("Netherlands", "Eindhoven"),
    city("Netherlands", "Venlo"),
    city("France", "Paris"),
    city("France", "Lyon"),
    city("France", "Marseille"),
    city("France", "Toulouse"),
    city("France", "Lille"),
    city("France", "Nantes"),
    city("France", "Strasbourg"),
    city("Italy", "Roma"),
    city("Italy", "Milano"),
    city("Italy", "Torino"),
    city("Italy", "Napoli"),
    city("Italy", "Bologna"),
    city("Italy", "Verona"),
    city("Spain", "Madrid"),
    city("Spain", "Barcelona"),
    city("Spain", "Valencia"),
    city("Spain", "Sevilla"),
    city("Spain", "Zaragoza"),
    city("Spain", "Málaga"),
    city("Spain", "A Coruña"),
    city("Czechia", "Praha"),
    city("Czechia", "Brno"),
    city("Czechia", "Ostrava"),
    city("Czechia", "Plzeň"),
    city("Czechia", "Olomouc"),
    city("Czechia", "České Budějovice"),
    city("Slovakia", "Bratislava"),
    city("Slovakia", "Košice"),
    city("Slovakia", "Žilina"),
    city("Slovakia", "Nitra"),
    city("Slovakia", "Banská Bystrica"),
    city("Lithuania", "Vilnius"),
    city("Lithuania", "Kaunas"),
    city("Lithuania", "Klaipėda"),
    city("Lithuania", "Šiauliai"),
    city("Lithuania", "Panevėžys"),
    city("Belgium", "Bruxelles"),
    city("Belgium", "Antwerpen"),
    city("Belgium", "Gent"),
    city("Belgium", "Liège"),
    city("Belgium", "Brugge"),
    city("Belgium", "Charleroi"),
    city("Austria", "Wien"),
    city("Austria", "Graz"),
    city("Austria", "Linz"),
    city("Austria", "Salzburg"),
    city("Austria", "Innsbruck"),
    city("Austria", "Klagenfurt"),
    city("Hungary", "Budapest"),
    city("Hungary", "Debrecen"),
    city("Hungary", "Szeged"),
    city("Hungary", "Győr"),
    city("Hungary", "Pécs"),
    city("Hungary", "Miskolc"),
    city("Romania", "București"),
    city("Romania", "Cluj-Napoca"),
    city("Romania", "Timișoara"),
    city("Romania", "Iași"),
    city("Romania", "Constanța"),
    city("Romania", "Brașov"),
    city("Sweden", "Stockholm"),
    city("Sweden", "Göteborg"),
    city("Sweden", "Malmö"),
    city("Sweden", "Uppsala"),
    city("Sweden", "Västerås"),
    city("Sweden", "Örebro"),
    city("Denmark", "København"),
    city("Denmark", "Aarhus"),
    city("Denmark", "Odense"),
    city("Denmark", "Aalborg"),
    city("Denmark", "Esbjerg"),
];

/// What [`seed`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Options this run created.
    pub created: usize,
    /// Options that were already there (created by an earlier run, or by someone else under the same name).
    pub existing: usize,
    /// Translations added to options that were already there.
    pub translated: usize,
}

/// The seed translations of the option `name` of `kind` under the parent named `parent`.
fn translations_of(kind: OptionKind, parent: Option<&str>, name: &str) -> BTreeMap<String, String> {
    translations::TRANSLATIONS
        .iter()
        .filter(|t| t.kind == kind && t.parent == parent && t.name == name)
        .flat_map(|t| t.names.iter())
        .map(|(locale, name)| ((*locale).to_owned(), (*name).to_owned()))
        .collect()
}

/// Loads [`OPTIONS`] into `store`: parents before children, each name normalised, new options with v7 ids
/// and their [`translations`]. Options already present (same kind, parent and name key) are kept as they
/// are, except that a seed translation they lack is added (a moderation change by `seed`, audited), so running
/// it again creates nothing.
///
/// # Errors
/// The store is unavailable; what was created before the failure stays, and a rerun completes it.
pub async fn seed(store: &dyn CatalogStore) -> Result<SeedReport, Unavailable> {
    let mut report = SeedReport::default();
    // The stored id of every parent, by (kind, name key): the existing one when an earlier run created it.
    let mut parents: HashMap<(OptionKind, String), Uuid> = HashMap::new();
    let (top_level, children): (Vec<&SeedOption>, Vec<&SeedOption>) =
        OPTIONS.iter().partition(|option| option.parent.is_none());
    for option in top_level.into_iter().chain(children) {
        let name = normalize(option.name).expect("the seed names are valid (tested below)");
        let parent_id = match (option.parent, option.kind.parent_kind()) {
            (Some(parent), Some(parent_kind)) => {
                let key = normalize(parent).expect("the seed names are valid (tested below)").key;
                Some(*parents.get(&(parent_kind, key)).expect("every seed parent is listed (tested below)"))
            }
            _ => None,
        };
        let translations = translations_of(option.kind, option.parent, option.name);
        let outcome = store
            .create_option(&CatalogOption {
                id: Uuid::now_v7(),
                kind: option.kind,
                parent_id,
                name: name.display,
                name_key: name.key.clone(),
                search_key: name.search,
                has_engine: option.has_engine,
                created_at: OffsetDateTime::now_utc(),
                created_by: None,
                hidden: false,
                pending: false,
                translations: translations.clone(),
            })
            .await?;
        if outcome.created {
            report.created += 1;
        } else {
            report.existing += 1;
            // An option seeded before the translations shipped (or created by someone): add the missing ones.
            for (locale, translated) in translations {
                if outcome.option.translations.contains_key(&locale) {
                    continue;
                }
                let name = normalize(&translated).expect("the seed translations are valid (tested below)");
                let change = Moderation::Translate { id: outcome.option.id, locale, name: Some(name) };
                match store.moderate(&change, "seed").await {
                    Ok(_) => report.translated += 1,
                    Err(crate::ports::catalog::ModerationError::Unavailable(reason)) => {
                        return Err(Unavailable(reason));
                    }
                    // Taken by another option in this catalog (an operator's choice): left as it is.
                    Err(e) => {
                        tracing::warn!(event = "seed_translation_skipped", option = %outcome.option.id, error = %e,
                        "seed translation not added")
                    }
                }
            }
        }
        if option.parent.is_none() {
            parents.insert((option.kind, name.key), outcome.option.id);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::catalog::moderation::{AuditEntry, IdentityReport, Moderated, Moderation, ModerationError};
    use crate::ports::catalog::{Created, Resolved};

    /// The key of a name (panics on an invalid name, which `names_are_valid_and_in_normal_form` reports).
    fn key(name: &str) -> String {
        normalize(name).expect("valid name").key
    }

    /// Every name is accepted by `normalize` and already in its normal form (what is stored is what is here).
    #[test]
    fn names_are_valid_and_in_normal_form() {
        for option in OPTIONS {
            let normal = normalize(option.name).unwrap_or_else(|e| panic!("{:?}: {e}", option.name));
            assert_eq!(normal.display, option.name, "not in normal form");
            assert_eq!(super::super::names::check_scripts(option.name), Ok(()), "{:?} mixes scripts", option.name);
        }
    }

    /// Exactly the child kinds have a parent, and each names an option of the parent kind that the data lists.
    #[test]
    fn every_parent_exists_with_the_right_kind() {
        let top_level: HashSet<(OptionKind, String)> =
            OPTIONS.iter().filter(|o| o.parent.is_none()).map(|o| (o.kind, key(o.name))).collect();
        for option in OPTIONS {
            match (option.kind.parent_kind(), option.parent) {
                (Some(kind), Some(parent)) => {
                    assert!(top_level.contains(&(kind, key(parent))), "{:?}: no {kind:?} {parent:?}", option.name);
                }
                (None, None) => {}
                (expected, actual) => {
                    panic!("{:?}: parent {actual:?} for a kind whose parent is {expected:?}", option.name)
                }
            }
        }
    }

    /// No two options share a key under one parent (the store would keep only the first), and only categories
    /// claim an engine.
    #[test]
    fn keys_are_unique_per_kind_and_parent() {
        let mut seen = HashSet::new();
        for option in OPTIONS {
            let parent = option.parent.map(key);
            assert!(seen.insert((option.kind, parent, key(option.name))), "duplicate {:?}", option.name);
            assert!(option.kind == OptionKind::Category || !option.has_engine, "{:?} has an engine", option.name);
        }
    }

    /// Every category, subcategory and country is named in German, Polish and Russian; every translation is of
    /// an option the data lists, of a translatable kind, with a valid name in normal form and a canonical tag
    /// that is not the default's; and no name (in any language) is two options' under one parent, so identity
    /// by translation is never ambiguous.
    #[test]
    fn translations_are_complete_and_unambiguous() {
        use crate::catalog::locale::parse_tag;
        for option in OPTIONS
            .iter()
            .filter(|o| matches!(o.kind, OptionKind::Category | OptionKind::Subcategory | OptionKind::Country))
        {
            let names = translations_of(option.kind, option.parent, option.name);
            for locale in translations::LOCALES {
                assert!(names.contains_key(locale), "{:?} has no {locale} name", option.name);
            }
        }
        let mut owner: HashMap<(OptionKind, Option<String>, String), &str> = HashMap::new();
        for option in OPTIONS {
            owner.insert((option.kind, option.parent.map(key), key(option.name)), option.name);
        }
        for t in translations::TRANSLATIONS {
            assert!(CatalogOption::translatable(t.kind), "{:?} is a {:?}", t.name, t.kind);
            assert!(
                OPTIONS.iter().any(|o| o.kind == t.kind && o.parent == t.parent && o.name == t.name),
                "{:?} is not a seed option",
                t.name
            );
            for (locale, name) in t.names {
                assert_eq!(parse_tag(locale).as_deref(), Ok(*locale));
                assert_ne!(*locale, "en", "English is the options' own name");
                let normal = normalize(name).unwrap_or_else(|e| panic!("{name:?}: {e}"));
                assert_eq!(normal.display, *name, "not in normal form");
                let slot = (t.kind, t.parent.map(key), normal.key);
                let previous = *owner.entry(slot).or_insert(t.name);
                assert_eq!(previous, t.name, "{name:?} ({locale}) is also {previous:?}");
            }
        }
    }

    /// The data looks like a marketplace: every kind is there, and every category, brand and country has
    /// children (at least four cities per country).
    #[test]
    fn every_parent_has_children() {
        for kind in OptionKind::ALL {
            assert!(OPTIONS.iter().any(|o| o.kind == kind), "no {kind:?}");
        }
        assert!(OPTIONS.iter().any(|o| o.kind == OptionKind::Category && !o.has_engine), "no category without engine");
        for parent in OPTIONS.iter().filter(|o| o.parent.is_none()) {
            let children = OPTIONS.iter().filter(|o| o.parent == Some(parent.name)).count();
            let least = if parent.kind == OptionKind::Country { 4 } else { 2 };
            assert!(children >= least, "{:?} has {children} children", parent.name);
        }
    }

    /// A store in a `Vec`, enough to watch `seed` (the adapters have their own tests).
    #[derive(Default)]
    struct VecStore(Mutex<Vec<CatalogOption>>);

    #[async_trait]
    impl CatalogStore for VecStore {
        async fn list_options(
            &self,
            kind: OptionKind,
            parent: Option<Uuid>,
        ) -> Result<Vec<CatalogOption>, Unavailable> {
            let options = self.0.lock().expect("not poisoned");
            Ok(options.iter().filter(|o| o.kind == kind && o.parent_id == parent).cloned().collect())
        }

        async fn get_option(&self, id: Uuid) -> Result<Option<CatalogOption>, Unavailable> {
            Ok(self.0.lock().expect("not poisoned").iter().find(|o| o.id == id).cloned())
        }

        async fn create_option(&self, option: &CatalogOption) -> Result<Created, Unavailable> {
            let mut options = self.0.lock().expect("not poisoned");
            let existing = options
                .iter()
                .find(|o| o.kind == option.kind && o.parent_id == option.parent_id && o.name_key == option.name_key)
                .cloned();
            let created = existing.is_none();
            if created {
                if let Some(parent) = option.parent_id {
                    assert!(options.iter().any(|o| o.id == parent), "{:?} created before its parent", option.name);
                }
                options.push(option.clone());
            }
            let version = options.len() as u64;
            Ok(Created { option: existing.unwrap_or_else(|| option.clone()), created, version })
        }

        async fn catalog_version(&self) -> Result<u64, Unavailable> {
            Ok(self.0.lock().expect("not poisoned").len() as u64)
        }

        async fn resolve_option(&self, _id: Uuid) -> Result<Option<Resolved>, Unavailable> {
            Err(Unavailable::new("seeding never resolves"))
        }

        async fn moderate(&self, _change: &Moderation, _actor: &str) -> Result<Moderated, ModerationError> {
            Err(ModerationError::Unavailable("seeding never moderates".into()))
        }

        async fn recent_options(
            &self,
            _created_by: Option<Uuid>,
            _since: Option<OffsetDateTime>,
            _limit: u32,
        ) -> Result<Vec<CatalogOption>, Unavailable> {
            Err(Unavailable::new("seeding never reviews"))
        }

        async fn audit_log(&self, _limit: u32) -> Result<Vec<AuditEntry>, Unavailable> {
            Err(Unavailable::new("seeding never audits"))
        }

        async fn upgrade_identity(&self) -> Result<Option<IdentityReport>, Unavailable> {
            Ok(None)
        }

        async fn catalog_id(&self) -> Result<String, Unavailable> {
            Ok("vec-store".to_owned())
        }

        async fn load_templates(&self) -> Result<Option<String>, Unavailable> {
            Ok(None)
        }

        async fn save_templates(&self, _document: &str) -> Result<u64, Unavailable> {
            Err(Unavailable::new("seeding never stores templates"))
        }
    }

    /// Seeding creates every option once, parents first, with children under the right parent ids; a second
    /// run creates nothing.
    #[tokio::test]
    async fn seeding_twice_creates_everything_once() {
        let store = VecStore::default();

        let first = seed(&store).await.expect("first run");
        let second = seed(&store).await.expect("second run");

        assert_eq!(first, SeedReport { created: OPTIONS.len(), existing: 0, translated: 0 });
        assert_eq!(second, SeedReport { created: 0, existing: OPTIONS.len(), translated: 0 });
        let germany = store.list_options(OptionKind::Country, None).await.expect("list");
        let germany = germany.iter().find(|o| o.name == "Germany").expect("Germany");
        let cities = store.list_options(OptionKind::City, Some(germany.id)).await.expect("list");
        assert!(cities.iter().any(|c| c.name == "München" && c.search_key == "munchen"));
    }
}
