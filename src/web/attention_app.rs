//! The attention explorer's page (stub while it is being built).

use std::cell::RefCell;

pub struct App {}

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
}

pub fn is_running() -> bool {
    APP.with(|cell| cell.try_borrow().map(|a| a.is_some()).unwrap_or(true))
}

pub fn with_app<R>(f: impl FnOnce(&mut App) -> R) -> Option<R> {
    APP.with(|cell| match cell.try_borrow_mut() {
        Ok(mut guard) => guard.as_mut().map(f),
        Err(_) => None,
    })
}
