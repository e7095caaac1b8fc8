//! What the builder's template shows: the form's sections with their rows (filled ones, then
//! blank ones), suggestions for the names rules and tools refer to, and the result.

use askama::Template;
use oakallow_domain::id::OrgId;
use oakallow_domain::policy::PolicyDocument;
use oakallow_service::people::OrgMember;

use super::form::{Composition, Field, Kind, Row, SECTIONS, Section};
use super::scripts;
use crate::dashboard::pages::Shell;

/// Longest share link offered; longer compositions are shared as their YAML instead.
const MAX_LINK: usize = 16 * 1024;

/// The page.
#[derive(Template)]
#[template(path = "builder_page.html")]
pub(crate) struct BuilderPage {
    /// The frame.
    pub(crate) shell: Shell,
    org_id: String,
    can_configure: bool,
    sections: Vec<SectionView>,
    /// Datalists: `(id, suggested values)`.
    lists: Vec<(&'static str, Vec<String>)>,
    rows: usize,
    composed: bool,
    errors: Vec<String>,
    output: Option<Output>,
}

impl BuilderPage {
    /// The page for `composition`, with `blank` empty rows per section.
    pub(crate) fn new(
        shell: Shell,
        member: &OrgMember,
        composition: &Composition,
        blank: usize,
        errors: Vec<String>,
        output: Option<Output>,
    ) -> Self {
        let sections = SECTIONS.iter().zip(&composition.0).map(|(section, rows)| SectionView::new(section, rows, blank)).collect();
        Self {
            shell,
            org_id: member.org_id().to_string(),
            can_configure: member.role().can_configure(),
            sections,
            lists: lists(composition),
            rows: blank,
            composed: !composition.is_empty(),
            errors,
            output,
        }
    }
}

/// The names typed in one section, suggested where another section refers to them.
fn lists(composition: &Composition) -> Vec<(&'static str, Vec<String>)> {
    let names = |key: &str, field: &str| {
        let section = SECTIONS.iter().find(|s| s.key == key).unwrap_or(&SECTIONS[0]);
        let mut names: Vec<String> =
            composition.rows(key).iter().map(|row| row.get(section, field).to_owned()).filter(|n| !n.is_empty()).collect();
        names.sort();
        names.dedup();
        names
    };
    vec![
        ("category", names("category", "name")),
        ("tool", names("tool", "name")),
        ("tenant", names("tenant", "external_id")),
        ("resource", names("resource", "name")),
        ("method", names("method", "name")),
    ]
}

/// A section of the form.
struct SectionView {
    section: &'static Section,
    rows: Vec<RowView>,
}

impl SectionView {
    fn new(section: &'static Section, rows: &[Row], blank: usize) -> Self {
        let empty = Row(vec![String::new(); section.fields.len()]);
        let all = rows.iter().chain(std::iter::repeat_n(&empty, blank));
        let rows = all.enumerate().map(|(index, row)| RowView::new(section, index, row)).collect();
        Self { section, rows }
    }
}

/// One row of a section.
struct RowView {
    number: usize,
    cells: Vec<Cell>,
}

impl RowView {
    fn new(section: &'static Section, index: usize, row: &Row) -> Self {
        let cells = section
            .fields
            .iter()
            .zip(&row.0)
            .map(|(field, value)| Cell {
                field,
                value: value.clone(),
                name: format!("{}{index}.{}", section.key, field.name),
                id: format!("{}{index}-{}", section.key, field.name),
            })
            .collect();
        Self { number: index + 1, cells }
    }
}

/// One input.
struct Cell {
    field: &'static Field,
    value: String,
    /// The query key.
    name: String,
    /// The element id.
    id: String,
}

impl Cell {
    /// Whether the value is `value` (a chosen option, a ticked box).
    fn is(&self, value: &str) -> bool {
        self.value == value
    }

    fn list(&self) -> &'static str {
        match self.field.kind {
            Kind::Text(Some(list)) => list,
            _ => "",
        }
    }

    fn options(&self) -> &'static [(&'static str, &'static str)] {
        match self.field.kind {
            Kind::Select(options) => options,
            _ => &[],
        }
    }
}

/// A valid composition: its document and scripts.
pub(crate) struct Output {
    yaml: String,
    curl: String,
    python: String,
    typescript: String,
    /// The link that fills the form with this composition, if short enough.
    share: Option<String>,
}

impl Output {
    /// The YAML and the scripts of `document`; `None` if it cannot be written (never expected).
    pub(crate) fn new(document: &PolicyDocument, composition: &Composition, base: &str, org: OrgId) -> Option<Self> {
        let yaml = serde_norway::to_string(document).ok()?;
        let json = serde_json::to_string_pretty(document).ok()?;
        let org = org.to_string();
        let query = composition.to_query();
        let share = (query.len() <= MAX_LINK).then(|| format!("/orgs/{org}/builder?{query}"));
        Some(Self {
            yaml,
            curl: scripts::curl(&json, base, &org),
            python: scripts::python(&json, base, &org),
            typescript: scripts::typescript(&json, base, &org),
            share,
        })
    }
}
