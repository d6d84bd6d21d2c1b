//! Users: registration, lookup, login, profile, activation, deletion.

use super::{Backend, fixture};
use crate::NewUser;

/// A registered user can be fetched by id, email (any case) and username, and never
/// carries their password.
pub fn users_register_and_fetch(backend: &dyn Backend) {
    let f = fixture(backend);
    let ada = f
        .store
        .create_user(&NewUser::new("ada", "Ada@Example.com", "correct horse").full_name("Ada L"))
        .expect("registration succeeds");
    assert_eq!(ada.email, "ada@example.com", "email is stored lower-cased");
    assert_eq!(ada.full_name.as_deref(), Some("Ada L"));
    assert!(ada.is_active);
    assert_eq!(ada.preferred_llm, "ollama");
    assert_eq!(f.store.user(ada.id).expect("by id"), ada);
    assert_eq!(
        f.store.user_by_email("ADA@example.com").expect("by email"),
        ada
    );
    assert_eq!(f.store.user_by_username("ada").expect("by username"), ada);
    assert!(!format!("{ada:?}").contains("correct horse"));
}
