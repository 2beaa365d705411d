//! Query-string values parsed into the service's types, each failure a 400 naming its parameter.

use crate::domain::{BookSort, Category, Frequency, SortOrder};
use crate::error::{AppError, AppResult};

pub fn int(name: &str, raw: &Option<String>) -> AppResult<Option<i64>> {
    raw.as_deref()
        .map(|s| {
            s.trim()
                .parse::<i64>()
                .map_err(|_| AppError::bad_param(name, format!("{name} must be an integer")))
        })
        .transpose()
}

pub fn int32(name: &str, raw: &Option<String>) -> AppResult<Option<i32>> {
    int(name, raw)?
        .map(|n| {
            i32::try_from(n)
                .map_err(|_| AppError::bad_param(name, format!("{name} is out of range")))
        })
        .transpose()
}

pub fn id(name: &str, raw: &Option<String>) -> AppResult<Option<i64>> {
    raw.as_deref()
        .map(|s| crate::service::id_param(s, name))
        .transpose()
}

pub fn category(name: &str, raw: &Option<String>) -> AppResult<Option<Category>> {
    raw.as_deref()
        .map(|s| {
            Category::parse(s.trim()).ok_or_else(|| {
                AppError::bad_param(name, format!("{name} {}", Category::expected()))
            })
        })
        .transpose()
}

pub fn frequency(name: &str, raw: &Option<String>) -> AppResult<Option<Frequency>> {
    raw.as_deref()
        .map(|s| {
            Frequency::parse(s.trim()).ok_or_else(|| {
                AppError::bad_param(name, format!("{name} {}", Frequency::expected()))
            })
        })
        .transpose()
}

pub fn order(name: &str, raw: &Option<String>) -> AppResult<Option<SortOrder>> {
    raw.as_deref()
        .map(|s| {
            SortOrder::parse(&s.trim().to_ascii_lowercase()).ok_or_else(|| {
                AppError::bad_param(name, format!("{name} {}", SortOrder::expected()))
            })
        })
        .transpose()
}

pub fn book_sort(name: &str, raw: &Option<String>) -> AppResult<Option<BookSort>> {
    raw.as_deref()
        .map(|s| {
            BookSort::parse(s.trim()).ok_or_else(|| {
                AppError::bad_param(name, format!("{name} {}", BookSort::expected()))
            })
        })
        .transpose()
}
