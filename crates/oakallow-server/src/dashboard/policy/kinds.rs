//! What differs between the six kinds' pages: their words, their list's columns and their form.
//! Everything else (routes, handlers, templates) is written once for all of them.

use oakallow_domain::policy::{NamedSpec, PolicyDocument};
use oakallow_service::manage::{Categories, ManagedKind, Methods, Resources, Rules, Tenants, Tools};

use super::form::{Choice, Group, Input, Json};
use super::table::{Column, Show};

/// The words of one kind's pages.
#[derive(Debug)]
pub(crate) struct Kind {
    /// The URL segment and navigation entry (`tools`).
    pub(crate) section: &'static str,
    /// The list's title (`Tools`).
    pub(crate) title: &'static str,
    /// One object, as a heading (`Tool`).
    pub(crate) heading: &'static str,
    /// One object, in a sentence and in the create button's id (`tool`).
    pub(crate) one: &'static str,
    /// What the kind is for.
    pub(crate) about: &'static str,
    /// The JSON field that names an object in its list and page.
    pub(crate) label_key: &'static str,
    /// The header of that column.
    pub(crate) label_header: &'static str,
    /// What deleting with `cascade` also removes; empty if the API has no `cascade` here.
    pub(crate) cascade: &'static str,
    /// Whether the form needs the org's names (selects of categories, tools, …).
    pub(crate) needs_names: bool,
}

/// The org's names, for selects and suggestions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    /// Category names.
    pub(crate) categories: Vec<String>,
    /// Tool names.
    pub(crate) tools: Vec<String>,
    /// Tenant external ids.
    pub(crate) tenants: Vec<String>,
    /// Resource names.
    pub(crate) resources: Vec<String>,
    /// Method names.
    pub(crate) methods: Vec<String>,
}

impl Names {
    /// Every name in `document`, sorted.
    pub(crate) fn of(document: &PolicyDocument) -> Self {
        let names = |items: &Option<Vec<NamedSpec>>| items.iter().flatten().map(|item| item.name.clone()).collect();
        Self {
            categories: document.categories.iter().flatten().map(|c| c.name.clone()).collect(),
            tools: document.tools.iter().flatten().map(|t| t.name.clone()).collect(),
            tenants: document.tenants.iter().flatten().map(|t| t.external_id.clone()).collect(),
            resources: names(&document.resources),
            methods: names(&document.methods),
        }
    }
}

/// A kind of policy object with dashboard pages. (Its spec is `Sync` because the service
/// holds it across awaits; every kind's is.)
pub(crate) trait PolicyPage: ManagedKind<Spec: Sync> {
    /// Its words.
    const PAGE: &'static Kind;
    /// Its list's columns after the label.
    const COLUMNS: &'static [Column];

    /// Its form, empty (or with the defaults a new object gets).
    fn form(names: &Names) -> Vec<Group>;
}

/// The permission select; `empty` labels "no permission" if the field is optional.
pub(crate) fn permission(label: &'static str, empty: &str) -> Input {
    let mut options = vec![Choice::empty(empty)];
    options.extend(["allowed", "requires_approval", "disabled"].map(Choice::named));
    Input::select("default_permission", label, Json::Optional, options)
}

fn named(description: &'static str) -> Vec<Group> {
    vec![Group::plain(vec![Input::name("name", "Name").hint("Unique; what agents send."), Input::textarea("description", description)])]
}

impl PolicyPage for Categories {
    const PAGE: &'static Kind = &Kind {
        section: "categories",
        title: "Categories",
        heading: "Category",
        one: "category",
        about: "A category groups tools (email, payments, filesystem) and gives them a default permission when no rule decides.",
        label_key: "name",
        label_header: "Name",
        cascade: "Its tools stay, without a category.",
        needs_names: false,
    };
    const COLUMNS: &'static [Column] =
        &[Column::new("Description", "description", Show::Text), Column::new("Default permission", "default_permission", Show::Badge)];

    fn form(_: &Names) -> Vec<Group> {
        let mut groups = named("Description");
        groups[0].inputs.push(permission("Default permission", "none: fall through").hint("Used for its tools when no rule matches."));
        groups
    }
}

impl PolicyPage for Tenants {
    const PAGE: &'static Kind = &Kind {
        section: "tenants",
        title: "Tenants",
        heading: "Tenant",
        one: "tenant",
        about: "A tenant is one of your own customers or end users; rules can treat each one differently. Agents name it by its external id.",
        label_key: "external_id",
        label_header: "External id",
        cascade: "Rules that name this tenant are deleted with it.",
        needs_names: false,
    };
    const COLUMNS: &'static [Column] = &[Column::new("Name", "name", Show::Text)];

    fn form(_: &Names) -> Vec<Group> {
        vec![Group::plain(vec![
            Input::name("external_id", "External id").hint("Your own identifier for this customer; what agents send as tenant."),
            Input::text("name", "Display name"),
        ])]
    }
}

impl PolicyPage for Resources {
    const PAGE: &'static Kind = &Kind {
        section: "resources",
        title: "Resources",
        heading: "Resource",
        one: "resource",
        about: "A resource is a named thing a tool acts on (prod-db, github:acme/api, billing-ledger); rules can single it out.",
        label_key: "name",
        label_header: "Name",
        cascade: "Rules that name this resource are deleted with it.",
        needs_names: false,
    };
    const COLUMNS: &'static [Column] = &[Column::new("Description", "description", Show::Text)];

    fn form(_: &Names) -> Vec<Group> {
        named("Description")
    }
}

impl PolicyPage for Methods {
    const PAGE: &'static Kind = &Kind {
        section: "methods",
        title: "Methods",
        heading: "Method",
        one: "method",
        about: "A method is a named kind of action (read, write, delete, refund); rules can treat each one differently.",
        label_key: "name",
        label_header: "Name",
        cascade: "Rules that name this method are deleted with it.",
        needs_names: false,
    };
    const COLUMNS: &'static [Column] = &[Column::new("Description", "description", Show::Text)];

    fn form(_: &Names) -> Vec<Group> {
        named("Description")
    }
}

impl PolicyPage for Rules {
    const PAGE: &'static Kind = &Kind {
        section: "rules",
        title: "Rules",
        heading: "Rule",
        one: "rule",
        about: "A rule gives a permission to calls that match its tenant, resource, tool and method; an empty field matches any. \
                The most specific matching rule wins: its level says where it sits.",
        label_key: "level",
        label_header: "Level",
        cascade: "",
        needs_names: true,
    };
    const COLUMNS: &'static [Column] = &[
        Column::new("Tenant", "tenant", Show::Scope),
        Column::new("Resource", "resource", Show::Scope),
        Column::new("Tool", "tool", Show::Scope),
        Column::new("Method", "method", Show::Scope),
        Column::new("Permission", "permission", Show::Badge),
        Column::new("Note", "note", Show::Text),
    ];

    fn form(names: &Names) -> Vec<Group> {
        let scope = |name: &'static str, label: &'static str, values: &[String]| {
            let mut options = vec![Choice::empty(&format!("any {name}"))];
            options.extend(values.iter().map(|v| Choice::named(v)));
            Input::select(name, label, Json::Optional, options)
        };
        let mut permission = permission("Permission", "Choose…");
        permission.name = "permission";
        vec![Group::plain(vec![
            scope("tenant", "Tenant", &names.tenants),
            scope("resource", "Resource", &names.resources),
            scope("tool", "Tool", &names.tools),
            scope("method", "Method", &names.methods),
            permission,
            Input::textarea("note", "Note").hint("Why the rule exists."),
        ])]
    }
}

impl PolicyPage for Tools {
    const PAGE: &'static Kind = &Kind {
        section: "tools",
        title: "Tools",
        heading: "Tool",
        one: "tool",
        about: "A tool is something your agents can execute. Register it to give it a risk level, a default permission and a parameters schema.",
        label_key: "name",
        label_header: "Name",
        cascade: "Rules that name this tool are deleted with it.",
        needs_names: true,
    };
    const COLUMNS: &'static [Column] = &[
        Column::new("Category", "category", Show::Code),
        Column::new("Risk", "risk_level", Show::Text),
        Column::new("Default", "default_permission", Show::Badge),
        Column::new("Approved", "approved", Show::YesNo),
        Column::new("Enabled", "enabled", Show::YesNo),
        Column::new("Tags", "tags", Show::Text),
    ];

    fn form(names: &Names) -> Vec<Group> {
        super::tool_form::form(names)
    }
}
