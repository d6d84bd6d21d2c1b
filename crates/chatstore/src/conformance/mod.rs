//! The backend conformance suite: the behaviour every [`Store`] must show, as public
//! functions a backend's tests call (enable the `conformance` feature).
//!
//! A backend implements [`Backend`] for a throwaway database and expands
//! [`conformance_suite!`](crate::conformance_suite) once; every check of the suite then
//! runs as its own `#[test]`:
//!
//! ```ignore
//! struct TempSqlite(tempfile::TempDir);
//!
//! impl chatstore::conformance::Backend for TempSqlite {
//!     fn open(&self, config: chatstore::Config) -> chatstore::Result<Box<dyn chatstore::Store>> {
//!         let path = self.0.path().join("chatstore.db");
//!         Ok(Box::new(SqliteStore::open(config.database_url(path.to_string_lossy()))?))
//!     }
//! }
//!
//! chatstore::conformance_suite!(TempSqlite(tempfile::tempdir().unwrap()));
//! ```
//!
//! Checks panic on failure, with a message saying what was expected.
//!
//! The other storage traits have suites of their own, expanded the same way: a
//! [`BlobStore`](crate::BlobStore) implements [`BlobBackend`] and expands
//! [`blob_conformance_suite!`](crate::blob_conformance_suite), a
//! [`VectorIndex`](crate::VectorIndex) implements [`VectorBackend`] and expands
//! [`vector_conformance_suite!`](crate::vector_conformance_suite). What
//! [`ChatStore`](crate::ChatStore) guarantees for the three together has a suite too:
//! a combination of backends implements [`ChatBackend`] and expands
//! [`chat_conformance_suite!`](crate::chat_conformance_suite). Copying a store from one
//! backend to another ([`crate::transfer`]) has a suite over a pair of backends, each
//! implementing [`CopyBackend`]: [`copy_conformance_suite!`](crate::copy_conformance_suite).

use std::sync::Arc;

use crate::{Config, ManualClock, PasswordParams, Result, Store, Timestamp};

/// Asserts that `$result` is an `Err` matching `$pattern`, printing what came instead.
macro_rules! assert_err {
    ($result:expr, $pattern:pat $(if $guard:expr)? $(,)?) => {
        match $result {
            Err($pattern) $(if $guard)? => {}
            other => panic!(
                "expected Err({}), got {:?}",
                stringify!($pattern),
                other
            ),
        }
    };
    ($result:expr, $pattern:pat $(if $guard:expr)?, $($context:tt)+) => {
        match $result {
            Err($pattern) $(if $guard)? => {}
            other => panic!(
                "{}: expected Err({}), got {:?}",
                format_args!($($context)+),
                stringify!($pattern),
                other
            ),
        }
    };
}

mod support;

mod agent_logs;
mod blob;
mod chat;
mod concurrency;
mod conversations;
mod documents;
mod embeddings;
mod isolation;
mod maintenance;
mod messages;
mod rbac;
mod search;
mod sessions;
mod text;
mod transfer;
mod usage;
mod users;
mod vector;

pub use agent_logs::*;
pub use blob::*;
pub use chat::*;
pub use concurrency::*;
pub use conversations::*;
pub use documents::*;
pub use embeddings::*;
pub use isolation::*;
pub use maintenance::*;
pub use messages::*;
pub use rbac::*;
pub use search::*;
pub use sessions::*;
pub use text::*;
pub use transfer::*;
pub use usage::*;
pub use users::*;
pub use vector::*;

/// A backend under test: opens stores on one database that belongs to this value.
pub trait Backend {
    /// Opens the backend's database with `config` (whose location the backend replaces
    /// with its own). Opening twice reaches the same data.
    fn open(&self, config: Config) -> Result<Box<dyn Store>>;
}

/// A store under test and the clock it reads.
pub struct Fixture {
    /// The store.
    pub store: Box<dyn Store>,
    /// Its clock, stopped at [`START`] until a check moves it.
    pub clock: ManualClock,
}

/// Where every fixture's clock starts: 2026-01-01T00:00:00Z.
pub const START: &str = "2026-01-01T00:00:00.000000Z";

/// The configuration checks open stores with: cheap password hashing and a manual clock
/// stopped at [`START`].
pub fn test_config() -> (Config, ManualClock) {
    let start: Timestamp = START.parse().expect("START is a valid timestamp");
    let clock = ManualClock::new(start);
    let config = Config::new("conformance")
        .password_params(PasswordParams::fast_for_tests())
        .clock(Arc::new(clock.clone()));
    (config, clock)
}

/// Opens a fresh fixture on `backend`.
pub fn fixture(backend: &dyn Backend) -> Fixture {
    let (config, clock) = test_config();
    let store = backend.open(config).expect("backend opens");
    Fixture { store, clock }
}

/// Expands to one `#[test]` per check of the suite, each on a backend made by `$make`
/// (an expression evaluated afresh for every test).
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@tests $make;
            users_register_and_fetch,
            users_new_account_defaults,
            users_reject_malformed_usernames,
            users_reject_malformed_emails,
            users_reject_bad_passwords_and_names,
            users_duplicates_are_unique_conflicts,
            users_username_case_folding_covers_non_ascii,
            users_unknown_lookups_are_not_found,
            users_authenticate_by_username_or_email,
            users_authenticate_rejects_wrong_password_and_unknown_user,
            users_authenticate_deactivated_is_user_inactive,
            users_password_rehash_on_new_parameters,
            users_imported_password_hashes_log_in_and_are_rehashed,
            users_set_password,
            users_update_profile,
            users_update_profile_rejects_bad_input,
            users_set_active,
            users_list_pages_with_cursors,
            users_list_rejects_bad_cursor_and_limit,
            users_delete_user_removes_everything,
            sessions_create_and_validate,
            sessions_expire_after_ttl,
            sessions_create_requires_active_user,
            sessions_revoked_token_is_invalid,
            sessions_deactivated_user_is_invalid,
            sessions_activity_touched_after_interval,
            sessions_unknown_or_malformed_token_is_invalid,
            sessions_revoke_all,
            sessions_revoke_by_id,
            sessions_list_newest_first,
            sessions_delete_expired,
            rbac_standard_roles_and_permissions_exist,
            rbac_standard_role_permissions,
            rbac_new_users_get_viewer,
            rbac_admin_full_implies_every_permission,
            rbac_create_and_delete_role,
            rbac_create_role_rejects_duplicates_and_bad_names,
            rbac_standard_roles_cannot_be_deleted,
            rbac_create_permission,
            rbac_grant_and_revoke,
            rbac_assign_and_unassign,
            rbac_unknown_user_or_role_is_not_found,
            conversations_create_and_get,
            conversations_create_rejects_bad_input,
            conversations_unknown_id_is_not_found,
            conversations_rename_and_set_model,
            conversations_selected_documents,
            conversations_list_newest_activity_first,
            conversations_keyset_paging,
            conversations_paging_is_stable_under_inserts,
            conversations_list_rejects_bad_cursor_and_limit,
            conversations_status_filters,
            conversations_visibility_filters,
            conversations_archive_and_unarchive,
            conversations_close_and_reopen,
            conversations_delete_and_restore,
            conversations_disallowed_transitions_change_nothing,
            conversations_purge,
            conversations_purge_deleted_before_cut_off,
            conversations_temporary_ones_expire,
            conversations_retention_purges_old_archived_and_idle,
            conversations_hide_and_unhide,
            conversations_auto_hide_idle,
            conversations_auto_hide_uses_configured_idle_time,
            conversations_auto_hide_undone_by_open_and_append,
            conversations_updated_at_tracks_every_change,
            messages_append_updates_conversation,
            messages_default_parent_is_previous,
            messages_branches,
            messages_parent_must_be_in_the_conversation,
            messages_reject_blank_content,
            messages_reject_oversized_content,
            messages_reject_invalid_metadata,
            messages_reject_oversized_metadata,
            messages_reject_deeply_nested_metadata,
            messages_reject_out_of_range_latency,
            messages_metadata_round_trips,
            messages_metadata_from_json,
            messages_last_messages,
            messages_paging,
            messages_count_by_role,
            messages_by_source,
            messages_append_requires_active_conversation,
            messages_unknown_ids_are_not_found,
            search_all_words_any_order_any_case,
            search_last_word_matches_as_prefix,
            search_ranks_best_first,
            search_hits_carry_details_and_highlighted_snippets,
            search_filters_by_conversation_and_role,
            search_skips_soft_deleted_conversations,
            search_query_syntax_is_harmless,
            search_rejects_empty_query_and_bad_limit,
            search_index_follows_appends_and_survives_rebuild,
            search_every_word_of_a_long_query_counts,
            search_largest_message_is_searchable_at_both_ends,
            search_addresses_urls_and_paths_split_into_words,
            search_accented_words_and_case_folding,
            documents_create_defaults,
            documents_create_rejects_bad_input,
            documents_global_scope_needs_admin_full,
            documents_visibility,
            documents_list_filters_and_pages,
            documents_update,
            documents_analysis,
            documents_lifecycle_allowed_steps,
            documents_lifecycle_disallowed_steps,
            documents_interrupted_processing_fails,
            documents_chunks_only_while_processing,
            documents_duplicate_chunk_index_stores_nothing,
            documents_chunks_and_completion_counts,
            documents_chunks_by_ids,
            documents_delete_chunks,
            documents_delete_document,
            documents_global_changes_need_admin_full,
            embeddings_collections,
            embeddings_complete_with_chunks,
            embeddings_complete_with_chunks_rejects_bad_input,
            embeddings_complete_with_chunks_needs_a_processing_document,
            embeddings_reprocessing_replaces_chunks_and_embeddings,
            embeddings_go_with_chunks_documents_and_users,
            embeddings_changes_since_a_version,
            embeddings_cache,
            embeddings_cache_is_trimmed_by_age_and_size,
            embeddings_cache_entries_go_with_their_owner,
            embeddings_load_leaves_out_unknown_chunks,
            agent_logs_record_and_read_back,
            agent_logs_oldest_first,
            agent_logs_reject_invalid_values,
            agent_logs_reject_oversized_data,
            agent_logs_reject_deeply_nested_data,
            agent_logs_unknown_message_is_not_found,
            agent_logs_go_with_their_conversation,
            usage_priced_with_the_default_table,
            usage_priced_with_the_configured_table,
            usage_breakdown_by_provider_and_operation,
            usage_time_ranges_are_half_open,
            usage_daily_series,
            usage_per_conversation,
            usage_rejects_bad_records,
            usage_token_counts_are_bounded_and_sums_exact,
            usage_survives_conversation_purge,
            usage_records_list_a_users_calls_in_order,
            usage_breakdown_by_model,
            maintenance_schema_version,
            maintenance_now_is_the_configured_clock,
            maintenance_integrity_check_passes,
            maintenance_integrity_check_agrees_while_appending,
            maintenance_vacuum_keeps_data,
            maintenance_backup_writes_a_file,
            maintenance_backup_writes_a_stream,
            maintenance_store_figures_count_what_an_operator_asks,
            isolation_conversations,
            isolation_messages,
            isolation_search,
            isolation_documents,
            isolation_sessions,
            isolation_agent_logs,
            isolation_usage,
            isolation_message_ids_cannot_be_probed,
            text_refuses_nul_everywhere,
            text_names_sort_in_byte_order,
            concurrency_appends_get_unique_contiguous_positions,
            concurrency_registrations_of_one_email_let_exactly_one_through,
            concurrency_conversation_creations_lose_none,
            concurrency_deleted_document_leaves_no_dangling_selection,
            concurrency_password_change_is_not_undone_by_a_login,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let backend = $make;
                $crate::conformance::$check(&backend);
            }
        )*
    };
}
