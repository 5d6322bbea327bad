//! Curating the shared catalog: the changes operators make (rename, merge, hide, unhide, approve, the
//! engine flag of a category), what they report, the audit record, the plan of the one-time identity
//! upgrade, the near matches a create answers with ("did you mean Scania?"), and the near-duplicate groups of
//! the review queue.
//!
//! Storage applies a change in one transaction with its audit record and a version bump (the port's
//! `moderate`); the option cache actor then drops the lists it touched and announces them on the bus.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use super::names::{identity_key, is_well_formed};
pub use crate::ports::catalog::{AuditEntry, BrokenForm, IdentityReport, Moderated, Moderation, ModerationError};
use crate::ports::catalog::{CatalogOption, OptionKind};

/// What a moderation change did, as the admin API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModerationOutcome {
    /// The store's report.
    pub moderated: Moderated,
    /// The forms the change took fields from (or made fail their checks), applied with `force`, each with
    /// its fields; a form that fails its checks is also flagged on `/admin/templates` and served degraded.
    pub flagged: Vec<BrokenForm>,
}

/// The plan of the identity upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityPlan {
    /// (merged, surviving), options of child kinds first, so a parent is merged once its conflicting children
    /// are gone.
    pub merges: Vec<(Uuid, Uuid)>,
    /// (option, new key) of every surviving option whose key changes.
    pub rekeys: Vec<(Uuid, String)>,
}

/// Plans the identity upgrade of `options` (every stored option): within each (kind, parent), options with
/// one identity key become one — a well-formed name (`names::is_well_formed`) before a look-alike, then the
/// oldest (then the smallest id) survives with its display name; a child
/// under a merged parent counts under the surviving parent.
#[must_use]
pub fn identity_plan(options: &[CatalogOption]) -> IdentityPlan {
    let survivor_of = |group: &[&CatalogOption]| {
        // A name that passes today's rules survives over a look-alike stored before they existed.
        group
            .iter()
            .min_by_key(|o| (!is_well_formed(&o.name), o.created_at, o.id))
            .map(|o| o.id)
            .expect("groups are never empty")
    };
    let mut merged_into: HashMap<Uuid, Uuid> = HashMap::new();
    let mut child_merges = Vec::new();
    let mut top_merges = Vec::new();
    for top_level in [true, false] {
        let mut groups: HashMap<(OptionKind, Option<Uuid>, String), Vec<&CatalogOption>> = HashMap::new();
        for o in options.iter().filter(|o| o.parent_id.is_none() == top_level) {
            let parent = o.parent_id.map(|p| merged_into.get(&p).copied().unwrap_or(p));
            groups.entry((o.kind, parent, identity_key(&o.name))).or_default().push(o);
        }
        let mut keys: Vec<_> = groups.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let group = &groups[&key];
            let survivor = survivor_of(group);
            for o in group.iter().filter(|o| o.id != survivor) {
                merged_into.insert(o.id, survivor);
                if top_level { top_merges.push((o.id, survivor)) } else { child_merges.push((o.id, survivor)) }
            }
        }
    }
    let rekeys = options
        .iter()
        .filter(|o| !merged_into.contains_key(&o.id))
        .filter_map(|o| {
            let key = identity_key(&o.name);
            (key != o.name_key).then_some((o.id, key))
        })
        .collect();
    child_merges.extend(top_merges);
    IdentityPlan { merges: child_merges, rekeys }
}

/// An option close to a name that is new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NearMatch {
    /// The option.
    pub id: Uuid,
    /// Its display name.
    pub name: String,
    /// Edits (insert, delete, substitute, swap two neighbours) between the identity keys.
    pub distance: usize,
}

/// Most near matches returned.
pub const MAX_NEAR_MATCHES: usize = 5;

/// The edits allowed between two keys for them to be "near": one for short names, two up to ten characters,
/// three beyond (typos grow with length; short names differ by one letter and are still different things).
fn allowed_edits(len: usize) -> usize {
    match len {
        0..=5 => 1,
        6..=10 => 2,
        _ => 3,
    }
}

/// The options of `candidates` whose identity is close to `key` (already an identity key) but not equal:
/// within [`allowed_edits`] of it (Damerau–Levenshtein on characters), or one a prefix of the other with at
/// least four characters in common ("Scan" → "Scania"). Closest first, at most [`MAX_NEAR_MATCHES`].
#[must_use]
pub fn near_matches<'a>(key: &str, candidates: impl IntoIterator<Item = &'a CatalogOption>) -> Vec<NearMatch> {
    let key_len = key.chars().count();
    let mut found: Vec<NearMatch> = candidates
        .into_iter()
        .filter(|o| o.name_key != key)
        .filter_map(|o| {
            let distance = strsim::damerau_levenshtein(key, &o.name_key);
            let other_len = o.name_key.chars().count();
            let shorter = key_len.min(other_len);
            let prefix = shorter >= 4 && (o.name_key.starts_with(key) || key.starts_with(o.name_key.as_str()));
            (distance <= allowed_edits(key_len.max(other_len)) || prefix).then(|| NearMatch {
                id: o.id,
                name: o.name.clone(),
                distance,
            })
        })
        .collect();
    found.sort_by(|a, b| a.distance.cmp(&b.distance).then_with(|| a.name.cmp(&b.name)));
    found.truncate(MAX_NEAR_MATCHES);
    found
}

/// Options of one kind and parent that look like one thing: the review queue's candidates for a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateGroup {
    /// The options, oldest first.
    pub options: Vec<CatalogOption>,
    /// Whether they all share one identity (the same name but for case, accents, punctuation and spacing: new
    /// accounts' pending twins) rather than only being near ([`near_matches`]).
    pub same_identity: bool,
}

/// The near-duplicate groups in `list` (the visible options of one kind and parent) around the options whose
/// ids `around` holds (the recent ones under review): each of those is joined with every option of `list`
/// that has its identity or is a near match of it, and joined groups merge. Groups of two or more, the group
/// with the newest option first.
#[must_use]
pub fn duplicate_groups(list: &[CatalogOption], around: &std::collections::HashSet<Uuid>) -> Vec<DuplicateGroup> {
    // Union-find over the list's positions.
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let position: HashMap<Uuid, usize> = list.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
    let mut parent: Vec<usize> = (0..list.len()).collect();
    for (i, option) in list.iter().enumerate().filter(|(_, o)| around.contains(&o.id)) {
        let twins = list.iter().filter(|o| o.id != option.id && o.name_key == option.name_key).map(|o| o.id);
        let near = near_matches(&option.name_key, list.iter()).into_iter().map(|m| m.id);
        for other in twins.chain(near) {
            let (a, b) = (root(&mut parent, i), root(&mut parent, position[&other]));
            parent[a] = b;
        }
    }
    let mut groups: HashMap<usize, Vec<&CatalogOption>> = HashMap::new();
    for (i, option) in list.iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(option);
    }
    let mut out: Vec<DuplicateGroup> = groups
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort_by_key(|o| (o.created_at, o.id));
            let same_identity = g.iter().all(|o| o.name_key == g[0].name_key);
            DuplicateGroup { options: g.into_iter().cloned().collect(), same_identity }
        })
        .collect();
    let newest = |g: &DuplicateGroup| g.options.iter().map(|o| (o.created_at, o.id)).max();
    out.sort_by_key(|g| std::cmp::Reverse(newest(g)));
    out
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::catalog::names::normalize;

    fn option(kind: OptionKind, parent: Option<Uuid>, name: &str, age: i64) -> CatalogOption {
        let n = normalize(name).expect("valid");
        CatalogOption {
            id: Uuid::now_v7(),
            kind,
            parent_id: parent,
            name: n.display,
            name_key: name.to_lowercase(),
            search_key: n.search,
            has_engine: false,
            created_at: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(age),
            created_by: None,
            hidden: false,
            pending: false,
            translations: Default::default(),
        }
    }

    /// The oldest spelling survives; children under merged parents are merged with the survivor's children
    /// of the same identity, before the parents are merged.
    #[test]
    fn identity_plan_merges_duplicates_oldest_first() {
        let scania = option(OptionKind::Brand, None, "Scania", 1);
        let scania2 = option(OptionKind::Brand, None, "Scània", 2);
        let mercedes = option(OptionKind::Brand, None, "Mercedes-Benz", 3);
        let r450 = option(OptionKind::Model, Some(scania.id), "R 450", 4);
        let r450b = option(OptionKind::Model, Some(scania2.id), "R-450", 5);
        let s500 = option(OptionKind::Model, Some(scania2.id), "S 500", 6);
        let plan =
            identity_plan(&[scania2.clone(), scania.clone(), mercedes.clone(), r450.clone(), r450b.clone(), s500]);
        assert_eq!(plan.merges, vec![(r450b.id, r450.id), (scania2.id, scania.id)]);
        assert_eq!(plan.rekeys, vec![(mercedes.id, "mercedes benz".to_owned())]);
        assert!(!plan.rekeys.iter().any(|(id, _)| *id == scania2.id || *id == r450b.id));
    }

    /// Around the options under review, pending twins of one identity form an identity group, a typo joins its
    /// original in a near group, and options nobody is reviewing or that resemble nothing stay out.
    #[test]
    fn duplicate_groups_join_twins_and_near_names_around_the_reviewed_ones() {
        let keyed = |name: &str, age: i64| {
            let mut o = option(OptionKind::Brand, None, name, age);
            o.name_key = identity_key(name);
            o
        };
        let scania = keyed("Scania", 1);
        let scanja = keyed("Scanja", 5);
        let nova = keyed("Komatsu Nova", 2);
        let nova2 = keyed("komatsu-nova", 6);
        let volvo = keyed("Volvo", 3);
        let volva = keyed("Volva", 4);
        let list = [scania.clone(), scanja.clone(), nova.clone(), nova2.clone(), volvo, volva];
        let around: std::collections::HashSet<Uuid> = [scanja.id, nova2.id, scania.id].into();

        let groups = duplicate_groups(&list, &around);

        let ids: Vec<Vec<Uuid>> = groups.iter().map(|g| g.options.iter().map(|o| o.id).collect()).collect();
        assert_eq!(ids, vec![vec![nova.id, nova2.id], vec![scania.id, scanja.id]], "newest group first, oldest first");
        assert_eq!(groups.iter().map(|g| g.same_identity).collect::<Vec<_>>(), [true, false]);
    }

    /// Look-alikes stored before names were checked (a Cyrillic "Vоlvo", a "Vol​vo" with a zero-width space)
    /// merge into the real "Volvo" at the upgrade, even when they are older: the visible spelling survives.
    #[test]
    fn identity_plan_merges_look_alikes_into_the_well_formed_name() {
        let mut cyrillic = option(OptionKind::Brand, None, "Volvo", 1);
        cyrillic.name = "V\u{043E}lvo".into();
        let mut invisible = option(OptionKind::Brand, None, "Volvo", 2);
        invisible.name = "Vol\u{200B}vo".into();
        let volvo = option(OptionKind::Brand, None, "Volvo", 3);
        let plan = identity_plan(&[cyrillic.clone(), invisible.clone(), volvo.clone()]);
        assert_eq!(plan.merges, vec![(cyrillic.id, volvo.id), (invisible.id, volvo.id)]);
    }

    /// Typos and prefixes are near; the same identity and unrelated names are not.
    #[test]
    fn near_matches_by_edits_and_prefix() {
        let scania = option(OptionKind::Brand, None, "Scania", 1);
        let mut scania_keyed = scania.clone();
        scania_keyed.name_key = identity_key("Scania");
        let mut volvo = option(OptionKind::Brand, None, "Volvo", 2);
        volvo.name_key = identity_key("Volvo");
        let list = [scania_keyed, volvo];
        let near = |name: &str| near_matches(&identity_key(name), list.iter());
        assert_eq!(near("Scanja")[0].name, "Scania");
        assert_eq!(near("Scnaia")[0].name, "Scania");
        assert_eq!(near("Scan")[0].name, "Scania");
        assert!(near("Scània").is_empty(), "the same identity is not a near match");
        assert!(near("DAF").is_empty());
        assert!(near("Vol").is_empty(), "three characters are too few for a prefix match");
    }
}
