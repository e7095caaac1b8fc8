//! The policy pages (PRODUCT.md section 11): tools, categories, tenants, resources, methods and
//! rules — each a list with a create form, an object's page with its edit form, and delete —
//! the "which rule wins" tester and the "what would change" simulation. The forms write the same JSON bodies as the management
//! API and go through the same service methods, so the same rules check them; members read,
//! owners and admins change.

mod form;
mod handlers;
mod kinds;
mod simulate;
mod table;
mod tester;
mod tool_form;

use axum::Router;
use axum::routing::{get, post};
use oakallow_service::manage::{Categories, Methods, Resources, Rules, Tenants, Tools};

use self::kinds::PolicyPage;
use crate::AppState;

/// The policy pages' routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(kind_routes::<Tools>())
        .merge(kind_routes::<Categories>())
        .merge(kind_routes::<Tenants>())
        .merge(kind_routes::<Resources>())
        .merge(kind_routes::<Methods>())
        .merge(kind_routes::<Rules>())
        .route("/orgs/{org}/tester", get(tester::page))
        .route("/orgs/{org}/simulate", get(simulate::page).post(simulate::run))
}

/// List and create, show and save, delete: `/orgs/{org}/<section>[/{id}[/delete]]`.
fn kind_routes<P: PolicyPage>() -> Router<AppState> {
    let list = format!("/orgs/{{org}}/{}", P::PAGE.section);
    Router::new()
        .route(&list, get(handlers::list::<P>).post(handlers::create::<P>))
        .route(&format!("{list}/{{id}}"), get(handlers::edit::<P>).post(handlers::update::<P>))
        .route(&format!("{list}/{{id}}/delete"), post(handlers::delete::<P>))
}
