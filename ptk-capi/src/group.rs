//! `ptk_loop_*`: creating, running, stopping and destroying a loop group, and posting calls.
#![allow(unsafe_code)] // Exports C functions and reads the C structs they are given.

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use ptk_loop::{Loop, LoopOpts};

use crate::deliver;
use crate::error::{code_of, ptk_err, PTK_ERR_INVALID_PARAM, PTK_ERR_OUT_OF_MEMORY, PTK_OK};
use crate::guard::{guard, guard_or};
use crate::registry::{self, Group, SOCKETS_PER_WORKER};

/// `ptk_loop` as C sees it (`ptk_loop *`): an opaque handle, never dereferenced.
#[allow(non_camel_case_types)]
pub enum LoopRef {}

/// `ptk_loop_opts`, laid out as in `ptk_loop.h` (`bool` read as a byte).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct ptk_loop_opts {
    /// Worker threads (0: the available parallelism).
    pub worker_threads: usize,
    /// Readiness events per poll (0: 1024).
    pub max_events: usize,
    /// Start the workers at once.
    pub auto_start: u8,
}

/// The group a `ptk_loop *` names.
pub fn group_of(lp: *mut LoopRef) -> Option<Arc<Group>> {
    registry::by_loop(lp as usize)
}

/// `ptk_err ptk_loop_create(ptk_loop **loop, const ptk_loop_opts *opts)`.
///
/// # Safety
///
/// `out` is NULL or writable; `opts` is NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn ptk_loop_create(
    out: *mut *mut LoopRef,
    opts: *const ptk_loop_opts,
) -> ptk_err {
    guard(|| {
        if out.is_null() {
            return PTK_ERR_INVALID_PARAM;
        }
        let mut o = LoopOpts {
            sockets_per_worker: SOCKETS_PER_WORKER,
            ..LoopOpts::default()
        };
        // SAFETY: the caller promises `opts` is NULL or readable.
        if let Some(c) = unsafe { opts.as_ref() } {
            let all_zero = c.worker_threads == 0 && c.max_events == 0 && c.auto_start == 0;
            o.worker_threads = c.worker_threads;
            if c.max_events != 0 {
                o.max_events = c.max_events;
            }
            o.auto_start = all_zero || c.auto_start != 0;
        }
        let lp = match Loop::new(&o) {
            Ok(lp) => lp,
            Err(e) => return crate::error::from_loop(e),
        };
        match registry::insert(lp) {
            Ok((handle, _)) => {
                // SAFETY: `out` is not NULL and the caller promises it is writable.
                unsafe { out.write(handle as *mut LoopRef) };
                PTK_OK
            }
            Err(lp) => {
                drop(lp);
                PTK_ERR_OUT_OF_MEMORY
            }
        }
    })
}

/// `void ptk_loop_destroy(ptk_loop *loop)`: stops and joins the workers, then delivers
/// PTK_EVENT_CLOSE (on this thread) to every object the workers did not close, and forgets
/// the handle. NULL and stale handles are ignored, and so is a call from one of the loop's
/// own callbacks (a worker cannot join itself): that call only stops the loop.
#[no_mangle]
pub extern "C" fn ptk_loop_destroy(lp: *mut LoopRef) {
    guard_or((), || {
        if let Some(group) = group_of(lp) {
            if registry::is_current(&group) {
                group.handle.stop();
                return;
            }
        }
        let Some(group) = registry::remove(lp as usize) else {
            return;
        };
        group.handle.stop();
        let owner = group
            .owner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(owner);
        deliver::close_all(&group);
    })
}

/// `ptk_err ptk_loop_start(ptk_loop *loop)`.
#[no_mangle]
pub extern "C" fn ptk_loop_start(lp: *mut LoopRef) -> ptk_err {
    guard(|| with_loop(lp, |l| code_of(l.start())))
}

/// Runs `f` on the group's `Loop`, or `PTK_ERR_INVALID_PARAM` for a stale handle.
fn with_loop(lp: *mut LoopRef, f: impl FnOnce(&Loop) -> ptk_err) -> ptk_err {
    let Some(group) = group_of(lp) else {
        return PTK_ERR_INVALID_PARAM;
    };
    let owner = group
        .owner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    owner.as_ref().map_or(PTK_ERR_INVALID_PARAM, f)
}

/// Runs a wait, refused (`PTK_ERR_INVALID_PARAM`) from the loop's own callbacks, where it
/// would wait for itself.
fn wait_with(lp: *mut LoopRef, f: impl FnOnce(&Loop) -> ptk_err) -> ptk_err {
    if group_of(lp).is_some_and(|g| registry::is_current(&g)) {
        return PTK_ERR_INVALID_PARAM;
    }
    with_loop(lp, f)
}

/// `ptk_err ptk_loop_wait(ptk_loop *loop)`.
#[no_mangle]
pub extern "C" fn ptk_loop_wait(lp: *mut LoopRef) -> ptk_err {
    guard(|| wait_with(lp, |l| code_of(l.wait())))
}

/// `ptk_err ptk_loop_wait_timeout(ptk_loop *loop, uint64_t timeout_ms)`.
#[no_mangle]
pub extern "C" fn ptk_loop_wait_timeout(lp: *mut LoopRef, timeout_ms: u64) -> ptk_err {
    guard(|| {
        wait_with(lp, |l| {
            code_of(l.wait_timeout(Duration::from_millis(timeout_ms)))
        })
    })
}

/// `void ptk_loop_stop(ptk_loop *loop)`.
#[no_mangle]
pub extern "C" fn ptk_loop_stop(lp: *mut LoopRef) {
    guard_or((), || {
        if let Some(group) = group_of(lp) {
            group.handle.stop();
        }
    })
}

/// `bool ptk_loop_is_running(ptk_loop *loop)`.
#[no_mangle]
pub extern "C" fn ptk_loop_is_running(lp: *mut LoopRef) -> bool {
    guard_or(false, || {
        group_of(lp).is_some_and(|g| g.handle.is_running())
    })
}

/// Runs a posted C function: `f` is its address, `arg` its argument.
fn run_posted(f: usize, arg: usize) {
    // SAFETY: `f` is the address of the C function `ptk_loop_post` was given (not NULL), and
    // function pointers round-trip through `usize` unchanged.
    let f = unsafe { std::mem::transmute::<usize, unsafe extern "C" fn(*mut c_void)>(f) };
    // SAFETY: the C function and the argument `ptk_loop_post` was given.
    unsafe { f(arg as *mut c_void) };
}

/// `ptk_err ptk_loop_post(ptk_loop *loop, void (*callback)(void *), void *user_data)`:
/// `callback(user_data)` on a worker thread (nothing is allocated). A call still queued when
/// the loop is destroyed is not made.
#[no_mangle]
pub extern "C" fn ptk_loop_post(
    lp: *mut LoopRef,
    callback: Option<unsafe extern "C" fn(*mut c_void)>,
    user_data: *mut c_void,
) -> ptk_err {
    guard(|| {
        let (Some(group), Some(f)) = (group_of(lp), callback) else {
            return PTK_ERR_INVALID_PARAM;
        };
        let r = group
            .handle
            .post_with(run_posted, f as usize, user_data as usize);
        code_of(r)
    })
}
