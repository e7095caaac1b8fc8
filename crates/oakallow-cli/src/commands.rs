//! What each subcommand does.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use oakallow_domain::SystemClock;
use oakallow_service::Service;
use oakallow_store::Store;
use oakallow_store_postgres::PostgresStore;
use oakallow_store_sqlite::SqliteStore;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::config::{Config, Overrides};
use crate::{AccountArgs, AccountsCommand, AdminCommand, Cli, Command, CreditsCommand, DatabaseArgs, McpProxyArgs};

fn database_overrides(database: &DatabaseArgs) -> Overrides {
    let mut flags: Overrides = Vec::new();
    if let Some(dir) = &database.data_dir {
        flags.push(("data_dir", toml::Value::String(dir.display().to_string())));
        flags.push(("database_url", toml::Value::String(String::new())));
    }
    if let Some(url) = &database.database_url {
        flags.push(("database_url", toml::Value::String(url.clone())));
    }
    flags
}

fn load_config(file: Option<&Path>, flags: Overrides) -> Result<Config> {
    Config::load(file, std::env::vars(), flags)
}

fn init_logging(config: &Config) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.filter));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Opens the configured backend (PostgreSQL when a URL is set, else SQLite) and migrates it.
async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    if config.database_url.is_empty() {
        let store = SqliteStore::open_dir(&config.data_dir).with_context(|| format!("opening SQLite in {}", config.data_dir.display()))?;
        return Ok(Arc::new(store));
    }
    // The URL may carry a password: say where only by backend.
    tracing::info!("connecting to PostgreSQL and applying migrations");
    let store =
        PostgresStore::connect_sized(&config.database_url, config.database.max_connections).await.context("connecting to PostgreSQL")?;
    Ok(Arc::new(store))
}

pub(crate) async fn run(cli: Cli) -> Result<()> {
    let file = cli.config.as_deref();
    match cli.command {
        Command::Serve { listen, database } => {
            let mut flags = database_overrides(&database);
            if let Some(listen) = listen {
                flags.push(("listen", toml::Value::String(listen)));
            }
            serve(load_config(file, flags)?).await
        }
        Command::Migrate { database } => {
            let config = load_config(file, database_overrides(&database))?;
            init_logging(&config);
            open_store(&config).await?;
            eprintln!("migrations applied ({} backend)", if config.database_url.is_empty() { "sqlite" } else { "postgres" });
            Ok(())
        }
        Command::Admin { command: AdminCommand::Bootstrap { email, org, database, json } } => {
            let config = load_config(file, database_overrides(&database))?;
            bootstrap(&config, &email, &org, json).await
        }
        Command::Admin { command: AdminCommand::SetPassword { email, database } } => {
            let config = load_config(file, database_overrides(&database))?;
            set_password(&config, &email).await
        }
        Command::Admin { command: AdminCommand::Accounts { command } } => accounts(file, command).await,
        Command::Apply { file: document, url, key, dry_run, simulate } => apply(&document, &url, &key, dry_run, &simulate).await,
        Command::Credits { command } => credits(file, command).await,
        Command::Check(args) => crate::remote::check(args).await,
        Command::Keys { command } => crate::remote::keys(command).await,
        Command::Approvals { command } => crate::remote::approvals(command).await,
        Command::Activity { command } => crate::remote::activity(command).await,
        Command::McpProxy(args) => mcp_proxy(file, args).await,
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&oakallow_server::openapi())?);
            Ok(())
        }
        Command::Version => {
            println!("oakallow {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}

async fn serve(config: Config) -> Result<()> {
    init_logging(&config);
    let store = open_store(&config).await?;
    let backend = store.backend();
    let (service, tasks) = Service::start(store, Arc::new(SystemClock), config.service());
    let listener = TcpListener::bind(&config.listen).await.with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, backend, "oakallow is listening on http://{address}");
    let mut limits = config.connection_limits();
    limits.max_connections = crate::descriptors::connection_cap(limits.max_connections, config.database.max_connections);
    let mcp = (oakallow_mcp::endpoint::PATH, oakallow_mcp::endpoint::router(Arc::clone(&service)));
    oakallow_server::serve(listener, service, vec![mcp], limits, shutdown_signal()).await;
    tracing::info!("no more requests; finishing background work");
    tasks.finished().await;
    tracing::info!("oakallow stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Runs one operator action on a service over the configured database, then stops it cleanly.
/// The service runs no background work (webhooks, approval expiry): the command does only what
/// it says, even beside a database that has work due.
async fn with_service<T, F>(config: &Config, action: impl FnOnce(Arc<Service>) -> F) -> Result<T>
where
    F: std::future::Future<Output = oakallow_service::Result<T>>,
{
    let store = open_store(config).await?;
    let (service, tasks) = Service::start_for_command(store, Arc::new(SystemClock), config.service());
    let result = action(Arc::clone(&service)).await;
    service.stop();
    drop(service);
    tasks.finished().await;
    result.map_err(|e| anyhow::anyhow!("{e}"))
}

async fn credits(file: Option<&Path>, command: CreditsCommand) -> Result<()> {
    let summary = match command {
        CreditsCommand::Grant { account, usd, calls, database } => {
            let config = load_config(file, database_overrides(&database))?;
            let amount = match (usd, calls) {
                (Some(usd), None) if usd.is_finite() && usd > 0.0 && usd < 1e9 => (usd * 1_000_000.0).round() as i64,
                (None, Some(calls)) if calls > 0 => calls.saturating_mul(oakallow_domain::billing::PRICE_MICROUSD),
                _ => anyhow::bail!("give a positive --usd or --calls"),
            };
            with_service(&config, |service| async move { service.grant_credit(&account, amount).await }).await?
        }
        CreditsCommand::Set { account, calls, database } => {
            let config = load_config(file, database_overrides(&database))?;
            with_service(&config, |service| async move { service.set_credit_calls(&account, calls).await }).await?
        }
    };
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

async fn bootstrap(config: &Config, email: &str, org: &str, json: bool) -> Result<()> {
    let (email, org) = (email.to_owned(), org.to_owned());
    let created = with_service(config, |service| async move { service.bootstrap(&email, &org).await }).await?;
    if json {
        println!("{}", serde_json::to_string(&created)?);
    } else {
        println!("account         {}", created.account_id);
        println!("org             {}", created.org_id);
        println!("management key  {}", created.management_key);
        println!("standard key    {}", created.standard_key);
        println!("approver key    {}", created.approver_key);
        println!("\nThese keys are shown only once. Store them somewhere safe.");
    }
    Ok(())
}

async fn set_password(config: &Config, email: &str) -> Result<()> {
    let mut password = String::new();
    std::io::stdin().read_line(&mut password).context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    let email = email.to_owned();
    let account = with_service(config, |service| async move { service.set_password(&email, &password).await }).await?;
    println!("password set for account {account}; its sessions are signed out");
    Ok(())
}

/// `oakallow admin accounts list | show | disable | enable | delete | reset-second-factor`: text
/// for people, `--json` for scripts.
async fn accounts(file: Option<&Path>, command: AccountsCommand) -> Result<()> {
    match command {
        AccountsCommand::List { database, json } => {
            let config = load_config(file, database_overrides(&database))?;
            let all = with_service(&config, |service| async move { service.all_accounts().await }).await?;
            if json {
                println!("{}", serde_json::to_string(&all)?);
                return Ok(());
            }
            println!("{:<30}  {:<32}  {:<24}  {:<20}  operator", "id", "email", "name", "created (UTC)");
            for account in &all {
                let operator = if account.operator { "yes" } else { "" };
                let created = account.created_at.to_string();
                println!(
                    "{:<30}  {:<32}  {:<24}  {:<20}  {operator}",
                    account.id,
                    account.email,
                    account.name,
                    &created[..created.len().min(19)]
                );
            }
            println!("{} account{}", all.len(), if all.len() == 1 { "" } else { "s" });
        }
        AccountsCommand::Show { account: AccountArgs { email, database, json } } => {
            let config = load_config(file, database_overrides(&database))?;
            let details = with_service(&config, |service| async move { service.account_details(&email).await }).await?;
            if json {
                println!("{}", serde_json::to_string(&details)?);
                return Ok(());
            }
            let summary = &details.summary;
            println!("account         {}", summary.id);
            println!("email           {}", summary.email);
            println!("name            {}", summary.name);
            println!("created         {}", summary.created_at);
            println!("operator        {}", if summary.operator { "yes" } else { "no" });
            println!("password        {}", if details.has_password { "set" } else { "none (cannot sign in to the dashboard)" });
            println!("live sessions   {}", details.live_sessions);
            println!("balance         {} calls ({} µ$)", details.balance_calls, details.balance_microusd);
            println!(
                "status          {}",
                match (details.deleted_at, details.disabled_at) {
                    (Some(at), _) => format!("deleted {at}"),
                    (None, Some(at)) => format!("disabled {at}"),
                    (None, None) => "active".to_owned(),
                }
            );
            println!("orgs            {}", details.orgs.len());
            for org in &details.orgs {
                println!("  {}  {:<6}  {}", org.org_id, org.role, org.name);
            }
        }
        AccountsCommand::ResetSecondFactor { account: AccountArgs { email, database, json } } => {
            let config = load_config(file, database_overrides(&database))?;
            let (account, removed) = with_service(&config, |service| async move { service.reset_second_factor(&email).await }).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "account_id": account.to_string(), "second_factor_removed": removed, "sessions_revoked": true })
                );
                return Ok(());
            }
            let what = if removed { "second factors (TOTP, recovery codes, passkeys) removed" } else { "it had no second factor" };
            println!("account {account}: {what}; its sessions are signed out");
        }
        AccountsCommand::Disable { account } => switch_account(file, account, true).await?,
        AccountsCommand::Enable { account } => switch_account(file, account, false).await?,
        AccountsCommand::Delete { account: AccountArgs { email, database, json }, yes } => {
            if !yes {
                anyhow::bail!("deleting {email} cannot be undone: add --yes to confirm");
            }
            let config = load_config(file, database_overrides(&database))?;
            let deleted = with_service(&config, |service| async move { service.delete_account_by_email(&email).await }).await?;
            if json {
                println!("{}", serde_json::to_string(&deleted)?);
            } else {
                println!(
                    "account {} is deleted: {} key{} of {} org{} revoked, its personal data erased",
                    deleted.id,
                    deleted.revoked_keys,
                    if deleted.revoked_keys == 1 { "" } else { "s" },
                    deleted.orgs.len(),
                    if deleted.orgs.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
    Ok(())
}

/// `oakallow admin accounts disable | enable`.
async fn switch_account(file: Option<&Path>, AccountArgs { email, database, json }: AccountArgs, disable: bool) -> Result<()> {
    let config = load_config(file, database_overrides(&database))?;
    let account = with_service(&config, |service| async move {
        if disable { service.disable_account(&email).await } else { service.enable_account(&email).await }
    })
    .await?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "id": account.id, "email": account.email, "status": if disable { "disabled" } else { "enabled" } })
        );
    } else if disable {
        println!("account {} ({}) is disabled: signed out everywhere, it cannot sign in", account.id, account.email);
    } else {
        println!("account {} ({}) is enabled: it can sign in again", account.id, account.email);
    }
    Ok(())
}

/// `oakallow apply --simulate`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Simulate instead of applying.
    #[arg(long)]
    simulate: bool,
    /// Only checks at or after this time (RFC 3339).
    #[arg(long, requires = "simulate")]
    since: Option<String>,
    /// Only checks before this time (RFC 3339).
    #[arg(long, requires = "simulate")]
    until: Option<String>,
    /// How many changed calls to list (0 to 10,000).
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Print the server's answer as JSON.
    #[arg(long, requires = "simulate")]
    json: bool,
}

async fn apply(path: &Path, url: &str, key: &str, dry_run: bool, simulate: &SimulateArgs) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // YAML is a superset of JSON, so one parser reads both formats; the strict reader refuses
    // what the server would (a key given twice, tags, `.nan`), instead of silently dropping it.
    let document: Value = oakallow_domain::json::deserialize(serde_norway::Deserializer::from_str(&text), text.len())
        .with_context(|| format!("parsing {}", path.display()))?;
    let client = oakallow_client::Client::new(url, key);
    if simulate.simulate {
        let answer = client.simulate_policy(&document, simulate.since.as_deref(), simulate.until.as_deref(), Some(simulate.limit)).await?;
        if simulate.json {
            println!("{}", serde_json::to_string(&answer)?);
        } else {
            print_simulation(&answer);
        }
        return Ok(());
    }
    let answer = client.apply_policy(&document, dry_run).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

/// A simulation for people: the totals, each old → new permission, then the changed calls.
fn print_simulation(answer: &Value) {
    let text = |value: &Value| value.as_str().map_or_else(|| "-".to_owned(), str::to_owned);
    println!("{} recorded checks decided again: {} would change", answer["checks"], answer["changed"]);
    for transition in answer["transitions"].as_array().into_iter().flatten() {
        let same = if transition["from"] == transition["to"] { "  (unchanged)" } else { "" };
        println!("  {:>18} -> {:<18} {:>8}{same}", text(&transition["from"]), text(&transition["to"]), transition["count"]);
    }
    println!("{} would need approval ({} that did not)", answer["requires_approval"], answer["newly_requires_approval"]);
    let changes = answer["changes"].as_array().cloned().unwrap_or_default();
    if changes.is_empty() {
        return;
    }
    println!("changed calls, oldest first{}:", if answer["truncated"] == true { " (more than listed)" } else { "" });
    for change in &changes {
        let rule = &change["after"]["rule"];
        let decided_by = if rule.is_null() {
            text(&change["after"]["resolved_from"])
        } else {
            let scope = ["tenant", "resource", "tool", "method"].iter().filter_map(|f| rule[*f].as_str().map(|v| format!("{f}={v}")));
            format!("rule {}", scope.collect::<Vec<_>>().join(" "))
        };
        println!(
            "  #{} {} {} tenant={} resource={} method={}: {} -> {} ({decided_by})",
            change["seq"],
            text(&change["at"]).get(..19).unwrap_or_default(),
            text(&change["tool"]),
            text(&change["tenant"]),
            text(&change["resource"]),
            text(&change["method"]),
            text(&change["before"]["permission"]),
            text(&change["after"]["permission"]),
        );
    }
}

/// `oakallow mcp-proxy`: the file (when given) with the flags over it. Logs go to stderr: on
/// stdio, stdout is the MCP protocol.
async fn mcp_proxy(file: Option<&Path>, args: McpProxyArgs) -> Result<()> {
    use oakallow_mcp::proxy::{ProxyConfig, UpstreamSpec, run};
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
    let mut config = match file {
        Some(path) => ProxyConfig::from_file(path)?,
        None => ProxyConfig::default(),
    };
    config.url = args.url.or(config.url);
    config.key = args.key.or(config.key);
    config.tenant = args.tenant.or(config.tenant);
    config.approval_wait_seconds = args.approval_wait.or(config.approval_wait_seconds);
    config.listen = args.listen.or(config.listen);
    if !args.allowed_host.is_empty() {
        config.allowed_hosts = Some(args.allowed_host);
    }
    config.upstreams.extend(args.upstream_cmd.iter().map(|line| UpstreamSpec::command_line(line)));
    config.upstreams.extend(args.upstream_url.iter().map(|url| UpstreamSpec::url(url)));
    run(config, shutdown_signal()).await
}
