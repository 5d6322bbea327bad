//! Inheritance and attachments: the form a listing of (category, subcategory) gets.
//!
//! 1. The category's template, else the default template (`"category": "*"`).
//! 2. `{"use": name}` entries become copies of the shared block, in place.
//! 3. A category with `has_engine` gets `engine_block` at the end, unless its template already uses it.
//! 4. A subcategory's override is laid over that: a field with a known name replaces it where it stands, a new
//!    field joins the block of the same name (or a new block at the end), a `use` attaches a shared block.
//!
//! A subcategory without an override gets step 3's form — the whole category form, never an empty one.

use serde::Serialize;

use super::document::{Block, DEFAULT_CATEGORY, ENGINE_BLOCK, TemplateSet, name_key};

/// Which template a resolved form came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The subcategory's override (over its category's template).
    Subcategory,
    /// The category's template.
    Category,
    /// The default template (`*`).
    Default,
}

/// A resolved form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    /// How messages name it (`Trucks / Tipper trucks`).
    pub title: String,
    /// Where it came from.
    pub source: Source,
    /// Blocks in form order, shared ones copied in.
    pub blocks: Vec<Block>,
}

impl Resolved {
    /// Every field, in form order.
    pub fn fields(&self) -> impl Iterator<Item = &super::document::Field> {
        self.blocks.iter().flat_map(|b| b.fields.iter())
    }
}

/// Copies `entries`, replacing `use` entries by the shared blocks they name (unknown names are skipped: the
/// checks report them).
fn expand(set: &TemplateSet, entries: &[Block]) -> Vec<Block> {
    entries
        .iter()
        .filter_map(|entry| match &entry.uses {
            Some(name) => set.shared_block(name).map(|shared| Block {
                name: Some(name.clone()),
                uses: None,
                label: entry.label.clone().or_else(|| shared.label.clone()),
                shared: true,
                fields: shared.fields.clone(),
            }),
            None => Some(Block { shared: false, ..entry.clone() }),
        })
        .collect()
}

/// The form of `category` (by name) with `has_engine`, for `subcategory` (by name) if given; `None` when
/// neither the category nor the default has a template.
#[must_use]
pub fn resolve(set: &TemplateSet, category: &str, has_engine: bool, subcategory: Option<&str>) -> Option<Resolved> {
    let category_key = name_key(category);
    let (base, source) = match set.template(&category_key, None) {
        Some(t) => (t, Source::Category),
        None => (set.template(DEFAULT_CATEGORY, None)?, Source::Default),
    };
    let mut blocks = expand(set, &base.blocks);
    if has_engine
        && !blocks.iter().any(|b| b.name.as_deref() == Some(ENGINE_BLOCK))
        && let Some(engine) = set.shared_block(ENGINE_BLOCK)
    {
        blocks.push(Block { shared: true, ..engine.clone() });
    }
    let mut resolved = Resolved { title: base.title(), source, blocks };
    if let Some(sub) = subcategory
        && let Some(over) = set.template(&category_key, Some(&name_key(sub)))
    {
        resolved.title = over.title();
        resolved.source = Source::Subcategory;
        for block in expand(set, &over.blocks) {
            lay_over(&mut resolved.blocks, block);
        }
    }
    Some(resolved)
}

/// The fields the forms of `category` (by name) lose when its engine flag goes from `from` to `to`: its own
/// form (named by its template's title, or `category` when the default serves it) and each subcategory
/// override of it in `set` (`Category / Subcategory`), each
/// with the names of the fields it has now and would not have then, in form order. Forms that lose nothing
/// are left out; subcategories without an override have the category's form.
#[must_use]
pub fn fields_lost(set: &TemplateSet, category: &str, from: bool, to: bool) -> Vec<(String, Vec<String>)> {
    let key = name_key(category);
    let overrides =
        set.templates.iter().filter(|t| name_key(&t.category) == key).filter_map(|t| t.subcategory.as_deref());
    let mut lost = Vec::new();
    for subcategory in std::iter::once(None).chain(overrides.map(Some)) {
        let (Some(now), Some(then)) =
            (resolve(set, category, from, subcategory), resolve(set, category, to, subcategory))
        else {
            continue;
        };
        let kept: std::collections::HashSet<&str> = then.fields().map(|f| f.name.as_str()).collect();
        let gone: Vec<String> =
            now.fields().filter(|f| !kept.contains(f.name.as_str())).map(|f| f.name.clone()).collect();
        if !gone.is_empty() {
            // Named as the checks name templates; the default template's form by the category it serves.
            let form = if now.source == Source::Default { category.to_owned() } else { now.title };
            lost.push((form, gone));
        }
    }
    lost
}

/// Lays one override block over `blocks`.
fn lay_over(blocks: &mut Vec<Block>, block: Block) {
    if block.shared {
        if !blocks.iter().any(|b| b.name == block.name) {
            blocks.push(block);
        }
        return;
    }
    for field in block.fields {
        if let Some(slot) = blocks.iter_mut().flat_map(|b| b.fields.iter_mut()).find(|f| f.name == field.name) {
            *slot = field;
        } else if let Some(target) = blocks.iter_mut().find(|b| !b.shared && b.name == block.name) {
            target.fields.push(field);
        } else {
            blocks.push(Block {
                name: block.name.clone(),
                uses: None,
                label: block.label.clone(),
                shared: false,
                fields: vec![field],
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::{BUNDLED, FieldType};
    use super::*;

    fn bundled() -> TemplateSet {
        TemplateSet::from_json(BUNDLED).unwrap()
    }

    fn names(r: &Resolved) -> Vec<&str> {
        r.fields().map(|f| f.name.as_str()).collect()
    }

    /// An engine category gets its own blocks and the engine block; a category without an engine does not.
    #[test]
    fn engine_block_follows_has_engine() {
        let set = bundled();
        let trucks = resolve(&set, "Trucks", true, None).unwrap();
        assert_eq!(trucks.source, Source::Category);
        for f in ["brand", "model", "mileage_km", "fuel_type", "power_kw", "emission_class", "transmission"] {
            assert!(names(&trucks).contains(&f), "trucks lack {f}: {:?}", names(&trucks));
        }
        assert!(trucks.blocks.iter().any(|b| b.shared && b.name.as_deref() == Some(ENGINE_BLOCK)));
        let trailers = resolve(&set, "Trailers", false, None).unwrap();
        assert!(!names(&trailers).contains(&"fuel_type"), "{:?}", names(&trailers));
        assert!(names(&trailers).contains(&"brand"));
    }

    /// A subcategory override adds its fields and replaces a field of the category where it stands.
    #[test]
    fn override_adds_and_replaces_in_place() {
        let mut set = bundled();
        set.merge(
            TemplateSet::from_json(
                r#"{"templates": [{"category": "Trucks", "subcategory": "Box trucks", "blocks": [
                {"name": "general", "fields": [{"name": "year", "type": "year", "label": "First registration", "required": true}]},
                {"name": "box", "label": "Box body", "fields": [{"name": "box_length_mm", "type": "integer", "label": "Box length"}]}
            ]}]}"#,
            )
            .unwrap(),
        );
        let category = resolve(&set, "Trucks", true, None).unwrap();
        let sub = resolve(&set, "Trucks", true, Some("box TRUCKS")).unwrap();
        assert_eq!(sub.source, Source::Subcategory);
        assert_eq!(sub.title, "Trucks / Box trucks");
        let year_at = |r: &Resolved| names(r).iter().position(|n| *n == "year").unwrap();
        assert_eq!(year_at(&sub), year_at(&category), "replaced where it stood");
        assert_eq!(sub.fields().find(|f| f.name == "year").unwrap().label, "First registration");
        assert_eq!(names(&sub).len(), names(&category).len() + 1);
        assert_eq!(sub.blocks.last().unwrap().fields[0].field_type, FieldType::Integer);
    }

    /// Turning the engine off takes the engine block from the category's form and from each of its overrides;
    /// turning it on takes nothing, and a category whose template uses the block itself loses nothing.
    #[test]
    fn engine_off_names_the_fields_each_form_loses() {
        let set = bundled();
        let lost = fields_lost(&set, "Trucks", true, false);
        let forms: Vec<&str> = lost.iter().map(|(form, _)| form.as_str()).collect();
        assert!(forms.contains(&"Trucks") && forms.contains(&"Trucks / Tipper trucks"), "{forms:?}");
        for (_, fields) in &lost {
            assert!(fields.contains(&"fuel_type".to_owned()) && !fields.contains(&"brand".to_owned()), "{fields:?}");
        }
        assert!(fields_lost(&set, "Trucks", false, true).is_empty());
        assert!(fields_lost(&set, "Trucks", true, true).is_empty());
        let mut own = bundled();
        own.merge(
            TemplateSet::from_json(
                r#"{"templates": [{"category": "Trucks", "blocks": [{"use": "listing_block"}, {"use": "engine_block"}]}]}"#,
            )
            .unwrap(),
        );
        assert!(fields_lost(&own, "Trucks", true, false).is_empty());
    }

    /// A subcategory without an override — e.g. one a user just created — gets the whole category form,
    /// engine block included; an unknown category gets the default template.
    #[test]
    fn fallbacks_are_never_empty() {
        let set = bundled();
        let category = resolve(&set, "Cranes", true, None).unwrap();
        let new_sub = resolve(&set, "Cranes", true, Some("Crawler cranes made up today")).unwrap();
        assert_eq!(new_sub.source, Source::Category);
        assert_eq!(names(&new_sub), names(&category));
        assert!(names(&new_sub).contains(&"fuel_type"));
        let unknown = resolve(&set, "Hovercraft", true, None).unwrap();
        assert_eq!(unknown.source, Source::Default);
        assert!(names(&unknown).contains(&"brand") && names(&unknown).contains(&"power_hp"));
        assert!(resolve(&TemplateSet::default(), "Trucks", true, None).is_none());
    }
}
