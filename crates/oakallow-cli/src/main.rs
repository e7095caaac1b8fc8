//! The `oakallow` binary: the composition root that wires configuration, a storage backend, the
//! service and the HTTP server together, plus the operator's subcommands.

mod commands;
mod config;
mod descriptors;
mod remote;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// oakallow: the security layer between AI agents and their tools.
#[derive(Debug, Parser)]
#[command(name = "oakallow", version, about)]
struct Cli {
    /// Configuration file (default: ./oakallow.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives; without either flag, the configuration decides.
#[derive(Debug, Args, Clone, Default)]
struct DatabaseArgs {
    /// Directory of the embedded SQLite database.
    #[arg(long, conflicts_with = "database_url")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…).
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Operator commands that work on the database directly.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Send a policy document (YAML or JSON) to a server: `PUT /v1/policy`.
    Apply {
        /// The policy document.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Server URL.
        #[arg(long, env = "OAKALLOW_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Management API key.
        #[arg(long, env = "OAKALLOW_KEY", hide_env_values = true)]
        key: String,
        /// Only show what would change.
        #[arg(long)]
        dry_run: bool,
        /// Apply nothing: decide the recorded checks again under this document and show which
        /// answers would change (`POST /v1/policy/simulate`; any key of the org).
        #[command(flatten)]
        simulate: commands::SimulateArgs,
    },
    /// Ask a server whether a tool call may run: `POST /v1/check` (standard key).
    Check(remote::CheckArgs),
    /// The org's API keys on a server (management key).
    Keys {
        #[command(subcommand)]
        command: remote::KeysCommand,
    },
    /// Approvals on a server: list, show, approve, deny (approver or management key).
    Approvals {
        #[command(subcommand)]
        command: remote::ApprovalsCommand,
    },
    /// The org's activity trail on a server: tail (and follow), verify, export.
    Activity {
        #[command(subcommand)]
        command: remote::ActivityCommand,
    },
    /// Operator commands on an account's prepaid credit.
    Credits {
        #[command(subcommand)]
        command: CreditsCommand,
    },
    /// Put MCP tool servers behind oakallow: an MCP server for the agent's client (stdio, or
    /// Streamable HTTP with --listen) that checks every tools/call, waits for approvals, and logs
    /// what ran. With --config, the file is the proxy's TOML (url, key, tenant, [[upstream]]
    /// tables; see docs/MCP.md); flags override it and add upstreams.
    McpProxy(McpProxyArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Print the version.
    Version,
}

/// Flags of `oakallow mcp-proxy`.
#[derive(Debug, Args)]
struct McpProxyArgs {
    /// oakallow server URL.
    #[arg(long, env = "OAKALLOW_URL")]
    url: Option<String>,
    /// The agent's standard API key.
    #[arg(long, env = "OAKALLOW_KEY", hide_env_values = true)]
    key: Option<String>,
    /// An upstream MCP server run over stdio: the command and its arguments in one string
    /// (split on spaces). Repeatable.
    #[arg(long = "upstream-cmd", value_name = "CMD ARGS")]
    upstream_cmd: Vec<String>,
    /// An upstream MCP server over Streamable HTTP. Repeatable.
    #[arg(long = "upstream-url", value_name = "URL")]
    upstream_url: Vec<String>,
    /// Serve Streamable HTTP at http://ADDR:PORT/mcp instead of stdio.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<std::net::SocketAddr>,
    /// `Host` values the HTTP listener accepts (default: loopback names). Repeatable.
    #[arg(long = "allowed-host", value_name = "HOST")]
    allowed_host: Vec<String>,
    /// Tenant `external_id` the calls are made for.
    #[arg(long)]
    tenant: Option<String>,
    /// Longest wait for a person to approve a call (default 300).
    #[arg(long = "approval-wait", value_name = "SECONDS")]
    approval_wait: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum CreditsCommand {
    /// Add credit to an account.
    Grant {
        /// The account's email.
        #[arg(long)]
        account: String,
        /// Dollars to add.
        #[arg(long, conflicts_with = "calls", required_unless_present = "calls")]
        usd: Option<f64>,
        /// Billable calls' worth to add.
        #[arg(long)]
        calls: Option<i64>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Make an account's balance exactly N calls (one adjustment row).
    Set {
        /// The account's email.
        #[arg(long)]
        account: String,
        /// The balance, in billable calls.
        #[arg(long)]
        calls: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create the account and org if missing, and new management, standard and approver keys.
    Bootstrap {
        /// Account email.
        #[arg(long)]
        email: String,
        /// Org name.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Give an account (one made by `bootstrap`, say) a dashboard password, read from the first
    /// line of standard input (never from the command line, where other users and shell history
    /// could see it). Signs the account out everywhere.
    SetPassword {
        /// Account email.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Look at the instance's accounts.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
}

/// The account an `admin accounts` command acts on, where the data lives, and how to answer.
#[derive(Debug, Args)]
struct AccountArgs {
    /// The account's email.
    #[arg(long)]
    email: String,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// Every account, oldest first.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// One account in full: its orgs and roles, its credit, whether it can sign in.
    Show {
        #[command(flatten)]
        account: AccountArgs,
    },
    /// Signs the account out everywhere and stops it signing in (its orgs' keys keep working).
    Disable {
        #[command(flatten)]
        account: AccountArgs,
    },
    /// Lets a disabled account sign in again.
    Enable {
        #[command(flatten)]
        account: AccountArgs,
    },
    /// Deletes the account: revokes every key of the orgs it pays for and erases its personal
    /// data, keeping its billing records and the activity chain. Cannot be undone.
    Delete {
        #[command(flatten)]
        account: AccountArgs,
        /// Confirms the deletion (required).
        #[arg(long)]
        yes: bool,
    },
    /// Removes an account's second factors (its authenticator app, recovery codes and passkeys),
    /// for someone who lost them, and signs the account out everywhere; it signs in with its
    /// password (or an e-mailed code) alone until it sets up a new one.
    ResetSecondFactor {
        #[command(flatten)]
        account: AccountArgs,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
