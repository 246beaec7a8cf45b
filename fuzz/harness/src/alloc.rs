//! An allocation budget for the fuzz targets, on stable Rust: a global allocator that counts the
//! bytes each thread holds, refuses any single allocation above [`MAX_ALLOCATION`] while a
//! target runs (the process then aborts with "memory allocation failed", which the fuzzer
//! reports as a crash), and lets a target check its peak against a bound linear in its input.
//! libFuzzer's own `-malloc_limit_mb` needs a sanitizer's malloc hooks; this needs none.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Largest single allocation a target may make.
pub const MAX_ALLOCATION: usize = 16 * 1024 * 1024;
/// Peak bytes a target may hold for an empty input.
pub const BASE_BUDGET: usize = 1024 * 1024;
/// Peak bytes a target may hold per input byte, on top of [`BASE_BUDGET`].
pub const BYTES_PER_INPUT_BYTE: usize = 64;

thread_local! {
    /// Bytes allocated minus bytes freed by this thread (negative when it frees memory that
    /// another thread allocated).
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The highest `LIVE` since the current budget started.
    static PEAK: Cell<isize> = const { Cell::new(0) };
    /// Whether a budget is being enforced on this thread.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// The counting allocator, over the system allocator.
pub struct Counting;

#[global_allocator]
static COUNTING: Counting = Counting;

fn grew(bytes: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add_unsigned(bytes);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(bytes: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub_unsigned(bytes)));
}

fn refused(size: usize) -> bool {
    size > MAX_ALLOCATION && GUARDED.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: every method forwards to `System` with the caller's layout and only adds bookkeeping
// in thread-locals that neither allocate nor unwind; a refused allocation returns null, which
// the `GlobalAlloc` contract allows.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if refused(layout.size()) {
            return std::ptr::null_mut();
        }
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if refused(layout.size()) {
            return std::ptr::null_mut();
        }
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if refused(new_size) {
            return std::ptr::null_mut();
        }
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            grew(new_size);
            shrank(layout.size());
        }
        new
    }
}

/// The most a target may hold at once for an input of `input_len` bytes.
pub fn budget(input_len: usize) -> usize {
    BASE_BUDGET.saturating_add(input_len.saturating_mul(BYTES_PER_INPUT_BYTE))
}

/// Runs `f` with single allocations capped at [`MAX_ALLOCATION`], and returns its result with
/// the peak bytes it held above what the thread held before.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let was_guarded = GUARDED.with(|g| g.replace(true));
    let out = f();
    GUARDED.with(|g| g.set(was_guarded));
    let peak = PEAK.with(Cell::get);
    (out, usize::try_from(peak.saturating_sub(start)).unwrap_or(0))
}

/// Runs `f` on `input` under [`measure`] and asserts that its peak stayed within
/// [`budget`]`(input.len())`.
pub fn within_budget<T>(target: &str, input: &[u8], f: impl FnOnce() -> T) -> T {
    let (out, peak) = measure(f);
    assert!(
        peak <= budget(input.len()),
        "{target}: held {peak} bytes at once for a {}-byte input (budget {})",
        input.len(),
        budget(input.len())
    );
    out
}
