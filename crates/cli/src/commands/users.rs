//! `chatstore users create|deactivate|activate|reset-password|list`.
//!
//! Passwords are read from the first line of stdin (`--password-stdin`) or prompted for
//! twice on the terminal without echo; they are never taken from the command line
//! (where other users of the machine could see them) and never printed.

use std::io::{BufRead, IsTerminal};

use chatstore::{NewUser, Password, SessionStore, User, UserQuery, UserStore};
use serde_json::json;

use crate::cli::{Global, UsersAction, UsersArgs};
use crate::error::{CliError, Result};
use crate::open::{Mode, Target, open};
use crate::output::{Output, Table};
use crate::with_chat;

/// Runs `users`.
pub fn run(global: &Global, args: UsersArgs) -> Result<Output> {
    let target = Target::resolve(global)?;
    // Read the password before opening, so a bad input changes nothing.
    let password = match &args.action {
        UsersAction::Create { password_stdin, .. }
        | UsersAction::ResetPassword { password_stdin, .. } => {
            Some(read_password(*password_stdin)?)
        }
        _ => None,
    };
    let opened = open(&target, Mode::Existing)?;
    with_chat!(&opened, chat => {
        let store = chat.store();
        match args.action {
            UsersAction::Create { username, email, full_name, .. } => {
                let mut new = NewUser::new(&username, &email, password.as_deref().unwrap_or_default());
                if let Some(name) = &full_name {
                    new = new.full_name(name);
                }
                let user = store.create_user(&new)?;
                Ok(Output::of(&user, format!("created user {} ({}), id {}", user.username, user.email, user.id)))
            }
            UsersAction::Deactivate { user } => {
                let user = find(store, &user)?;
                let user = store.set_user_active(user.id, false)?;
                let ended = store.revoke_all_sessions(user.id)?;
                Ok(Output::new(
                    json!({ "user": user, "sessions_revoked": ended }),
                    format!("deactivated {}; {ended} sessions ended", user.username),
                ))
            }
            UsersAction::Activate { user } => {
                let user = find(store, &user)?;
                let user = store.set_user_active(user.id, true)?;
                Ok(Output::of(&user, format!("activated {}", user.username)))
            }
            UsersAction::ResetPassword { user, .. } => {
                let user = find(store, &user)?;
                store.set_password(user.id, &Password::new(password.unwrap_or_default()))?;
                let ended = store.revoke_all_sessions(user.id)?;
                Ok(Output::new(
                    json!({ "user": user.username, "password_changed": true, "sessions_revoked": ended }),
                    format!("password of {} changed; {ended} sessions ended", user.username),
                ))
            }
            UsersAction::List { active } => {
                let users = all_users(store, active)?;
                let mut table = Table::new(&["username", "email", "active", "created", "last login", "id"]);
                for u in &users {
                    table.row(vec![
                        u.username.clone(),
                        u.email.clone(),
                        if u.is_active { "yes" } else { "no" }.to_owned(),
                        u.created_at.to_string(),
                        u.last_login_at.map(|t| t.to_string()).unwrap_or_default(),
                        u.id.to_string(),
                    ]);
                }
                Ok(Output::of(&users, format!("{} users\n\n{}", users.len(), table.render())))
            }
        }
    })
}

/// A user by username, or by email when the text has an `@`.
pub fn find(store: &dyn UserStore, who: &str) -> Result<User> {
    let found = if who.contains('@') {
        store.user_by_email(who)
    } else {
        store.user_by_username(who)
    };
    found.map_err(|_| CliError::new(format!("no user {who:?}")))
}

/// Every user, page by page.
fn all_users(store: &dyn UserStore, active: Option<bool>) -> Result<Vec<User>> {
    let mut users = Vec::new();
    let mut query = UserQuery {
        active,
        limit: 1000,
        ..UserQuery::default()
    };
    loop {
        let page = store.list_users(&query)?;
        users.extend(page.items);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return Ok(users),
        }
    }
}

/// The new password: stdin's first line with `--password-stdin`, else asked twice on
/// the terminal.
fn read_password(from_stdin: bool) -> Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            return Err(CliError::new(
                "the two passwords differ; nothing was changed",
            ));
        }
        first
    } else {
        return Err(CliError::usage(
            "stdin is not a terminal: pass --password-stdin to read the password from its first line",
        ));
    };
    if password.is_empty() {
        return Err(CliError::new("the password is empty; nothing was changed"));
    }
    Ok(password)
}
