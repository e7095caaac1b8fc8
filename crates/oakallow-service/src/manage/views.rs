//! What the management API answers for each kind: the spec people wrote (names, every default
//! spelled out) plus `id` and times; rules also carry their `level`.

use oakallow_domain::Timestamp;
use oakallow_domain::permission::ResolvedFrom;
use oakallow_domain::policy::{CategorySpec, NamedSpec, RuleSpec, TenantSpec, ToolSpec};
use serde::Serialize;

macro_rules! view {
    ($(#[$doc:meta])* $name:ident, $spec:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// Its id.
            pub id: String,
            /// The fields as written.
            #[serde(flatten)]
            pub spec: $spec,
            /// Creation time.
            #[schema(value_type = String, format = DateTime)]
            pub created_at: Timestamp,
            /// Last change.
            #[schema(value_type = String, format = DateTime)]
            pub updated_at: Timestamp,
        }
    };
}

view!(/// A tool.
    ToolView, ToolSpec);
view!(/// A category.
    CategoryView, CategorySpec);
view!(/// A tenant.
    TenantView, TenantSpec);
view!(/// A resource.
    ResourceView, NamedSpec);
view!(/// A method.
    MethodView, NamedSpec);

/// A rule.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleView {
    /// Its id.
    pub id: String,
    /// The fields as written (scope by names).
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// The resolution level the rule sits at, e.g. `org_tool`.
    pub level: ResolvedFrom,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}
