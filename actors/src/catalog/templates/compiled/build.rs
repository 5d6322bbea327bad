//! Compiling a resolved form: the checks of the form as a whole (unique names, known references, cascades,
//! no `visibleIf` cycles) and the dependency graph the cascade runtime walks.

use std::collections::HashMap;

use super::{CompiledField, CompiledTemplate};
use crate::catalog::OptionKind;
use crate::catalog::templates::issues::{Issues, TemplateIssue};
use crate::catalog::templates::logic;
use crate::catalog::templates::resolve::Resolved;

impl CompiledTemplate {
    /// Checks the resolved form as a whole (unique names, known references, cascades, no cycles) and compiles
    /// it.
    ///
    /// # Errors
    /// Every problem, naming the template and the field.
    pub fn compile(resolved: Resolved) -> Result<Self, Vec<TemplateIssue>> {
        let mut out = Vec::new();
        let mut issues = Issues { template: &resolved.title, out: &mut out };
        let mut by_name = HashMap::default();
        let mut fields = Vec::new();
        for field in resolved.fields() {
            if by_name.insert(field.name.clone(), fields.len()).is_some() {
                issues.push(Some(&field.name), "duplicate_field", "two fields have this name");
            }
            fields.push(CompiledField {
                field: field.clone(),
                kind: field.data_source.as_ref().and_then(|d| OptionKind::parse(&d.kind)),
                visible_if: None,
                required_if: None,
                pattern: None,
                resets: Vec::new(),
                visible_reads: Vec::new(),
                deps: Vec::new(),
                parent: None,
            });
        }
        for i in 0..fields.len() {
            let name = fields[i].field.name.clone();
            let field = &fields[i].field;
            for dep in field.depends_on.iter() {
                if !by_name.contains_key(dep) {
                    issues.push(
                        Some(&name),
                        "unknown_field",
                        format!("dependsOn names {dep:?}, which is not a field of this form"),
                    );
                }
            }
            if let (Some(kind), Some(parent)) =
                (fields[i].kind, field.data_source.as_ref().and_then(|d| d.parent_field.as_ref()))
            {
                match by_name.get(parent).map(|&p| fields[p].kind) {
                    None => issues.push(
                        Some(&name),
                        "unknown_field",
                        format!("parentField names {parent:?}, which is not a field of this form"),
                    ),
                    Some(parent_kind) if parent_kind != kind.parent_kind() || parent_kind.is_none() => issues.push(
                        Some(&name),
                        "invalid_parent_field",
                        format!(
                            "parentField {parent:?} must be a select of {} options",
                            kind.parent_kind().map_or("parent", OptionKind::as_str)
                        ),
                    ),
                    Some(_) => {}
                }
            }
            let mut compiled = [None, None];
            let mut visible_reads = Vec::new();
            for (slot, (label, logic)) in
                compiled.iter_mut().zip([("visibleIf", &field.visible_if), ("requiredIf", &field.required_if)])
            {
                let Some(logic) = logic else { continue };
                let mut vars = Vec::new();
                let mut bad = false;
                logic::check(logic, label, &mut vars, &mut |_, _| bad = true);
                for var in vars {
                    if label == "visibleIf"
                        && let Some(&read) = by_name.get(&var)
                        && !visible_reads.contains(&read)
                    {
                        visible_reads.push(read);
                    }
                    if !by_name.contains_key(&var) {
                        issues.push(
                            Some(&name),
                            "unknown_field",
                            format!("{label} reads {var:?}, which is not a field of this form"),
                        );
                    }
                }
                if !bad {
                    *slot = Some(logic.clone());
                }
            }
            let [visible_if, required_if] = compiled;
            let pattern = field
                .validation
                .as_ref()
                .and_then(|v| v.pattern.as_ref())
                .and_then(|p| regex::Regex::new(&format!("^(?:{p})$")).ok());
            let resets = field.resets_on_change();
            let deps: Vec<usize> = field.dependencies().filter_map(|d| by_name.get(d).copied()).collect();
            let parent = field.data_source.as_ref().and_then(|d| by_name.get(d.parent_field.as_ref()?).copied());
            let slot = &mut fields[i];
            slot.deps.clone_from(&deps);
            slot.parent = parent;
            slot.visible_if = visible_if;
            slot.required_if = required_if;
            slot.pattern = pattern;
            slot.visible_reads = visible_reads;
            if resets {
                for d in deps {
                    if d != i && !fields[d].resets.contains(&i) {
                        fields[d].resets.push(i);
                    }
                }
            }
        }
        let depends: Vec<Vec<usize>> = fields.iter().map(|f| f.deps.clone()).collect();
        for cycle in cycles(&fields, &depends) {
            let first = cycle[0].clone();
            issues.push(Some(&first), "dependency_cycle", format!("dependsOn cycle: {}", cycle.join(" → ")));
        }
        // Hidden fields are absent for every condition, so whether a field shows must not depend on itself.
        let reads: Vec<Vec<usize>> = fields.iter().map(|f| f.visible_reads.clone()).collect();
        for cycle in cycles(&fields, &reads) {
            let first = cycle[0].clone();
            issues.push(Some(&first), "dependency_cycle", format!("visibleIf cycle: {}", cycle.join(" → ")));
        }
        if out.is_empty() { Ok(Self { resolved, fields, by_name }) } else { Err(out) }
    }
}

/// Cycles in a graph over the fields (`edges[i]`: the fields `i` depends on), each as a path of names.
fn cycles(fields: &[CompiledField], edges: &[Vec<usize>]) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        i: usize,
        fields: &[CompiledField],
        edges: &[Vec<usize>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        found: &mut Vec<Vec<String>>,
    ) {
        marks[i] = Mark::Open;
        path.push(i);
        for &d in &edges[i] {
            match marks[d] {
                Mark::Open => {
                    let start = path.iter().position(|&p| p == d).unwrap_or(0);
                    let mut cycle: Vec<String> = path[start..].iter().map(|&p| fields[p].field.name.clone()).collect();
                    cycle.push(fields[d].field.name.clone());
                    found.push(cycle);
                }
                Mark::New => visit(d, fields, edges, marks, path, found),
                Mark::Done => {}
            }
        }
        path.pop();
        marks[i] = Mark::Done;
    }
    let mut marks = vec![Mark::New; fields.len()];
    let mut found = Vec::new();
    for i in 0..fields.len() {
        if marks[i] == Mark::New {
            visit(i, fields, edges, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}
