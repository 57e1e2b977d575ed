//! Mapping a large slice on every core, in order (for bulk imports).

/// `f` applied to every element of `items`, in order. Slices of at least `per_thread`
/// elements per extra thread are split across up to one thread per core; smaller ones are
/// mapped on the calling thread.
pub fn map<T: Sync, R: Send>(items: &[T], per_thread: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len() / per_thread.max(1) + 1);
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    let parts: Vec<Option<Vec<R>>> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    });
    if parts.iter().any(Option::is_none) {
        // A worker panicked (a bug in `f`): map everything here, where it surfaces.
        return items.iter().map(f).collect();
    }
    parts.into_iter().flatten().flatten().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_at_every_size() {
        for n in [0, 1, 9, 10, 11, 1000, 12_345] {
            let items: Vec<usize> = (0..n).collect();
            let out = super::map(&items, 10, |x| x * 2);
            assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>(), "{n}");
        }
    }
}
