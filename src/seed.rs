//! The `seed` command: a small demo catalogue, or the benchmark data set of `shared/dataset.md`.

use std::time::Instant;

use anyhow::{bail, Context};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use indicatif::{ProgressBar, ProgressStyle};

use crate::domain::{Category, Frequency, Isbn, Issn};
use crate::repo::seed::{self as sql, BookSeed, MagazineSeed};

const CATEGORIES: [Category; 8] = [
    Category::Fiction,
    Category::NonFiction,
    Category::Science,
    Category::History,
    Category::Children,
    Category::Technology,
    Category::Fantasy,
    Category::Biography,
];
const MAG_CATEGORIES: [Category; 4] = [
    Category::Science,
    Category::Technology,
    Category::History,
    Category::Fiction,
];
const MAG_FREQUENCIES: [Frequency; 3] =
    [Frequency::Weekly, Frequency::Monthly, Frequency::Quarterly];
const BATCH: usize = 2000;

/// The benchmark data set, exactly as `shared/dataset.md` defines it.
pub struct Dataset {
    pub authors: u32,
    pub books: u32,
    pub magazines: u32,
}

impl Dataset {
    pub fn book(i: u32) -> BookSeed {
        BookSeed {
            isbn: Isbn::from_sequence(i).into_string(),
            title: format!("Book {i}"),
            category: CATEGORIES[(i % 8) as usize].as_str(),
            year: 1950 + (i % 75) as i32,
            price_cents: 500 + ((i as u64 * 37) % 5000) as i32,
            stock: ((i as u64 * 13) % 200) as i32,
        }
    }

    /// (isbn, author, position) links of book `i`.
    pub fn links(&self, i: u32) -> Vec<(String, i64, i16)> {
        let n = self.authors;
        let isbn = Isbn::from_sequence(i).into_string();
        let first = 1 + (i - 1) % n;
        let mut links = vec![(isbn.clone(), i64::from(first), 1)];
        if i % 5 == 0 {
            let second = 1 + ((i as u64 * 7) % n as u64) as u32;
            if second != first {
                links.push((isbn, i64::from(second), 2));
            }
        }
        links
    }

    pub fn magazine(i: u32) -> MagazineSeed {
        MagazineSeed {
            id: i64::from(i),
            title: format!("Magazine {i}"),
            issn: Issn::from_number(1_000_000 + i).into_string(),
            publisher: format!("Publisher {}", 1 + i % 40),
            category: MAG_CATEGORIES[(i % 4) as usize].as_str(),
            frequency: MAG_FREQUENCIES[(i % 3) as usize].as_str(),
            year: 1990 + (i % 35) as i32,
            price_cents: 300 + (i % 900) as i32,
        }
    }

    /// Loads the data set in one transaction (all or nothing), with a progress bar on stderr.
    pub async fn load(&self, database_url: &str, reset: bool) -> anyhow::Result<()> {
        if self.authors == 0 && self.books > 0 {
            bail!("books need authors: --authors must be at least 1 when --books is set");
        }
        if self.magazines > 8_999_999 || self.books > 999_999_999 {
            bail!("too many rows for the numbering of the data set");
        }
        let started = Instant::now();
        let mut conn = AsyncPgConnection::establish(database_url)
            .await
            .context("connecting to the database")?;
        let total = u64::from(self.authors) + u64::from(self.books) * 2 + u64::from(self.magazines);
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} rows ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let this = self;
        let bar_ref = &bar;
        conn.transaction::<(), anyhow::Error, _>(async move |c| {
            if !sql::catalogue_is_empty(c).await? {
                if !reset {
                    bail!("the catalogue is not empty: run `bookstore seed ... --reset` to replace it");
                }
                sql::truncate_catalogue(c).await?;
            }
            bar_ref.set_message("authors");
            let ids: Vec<u32> = (1..=this.authors).collect();
            for chunk in ids.chunks(BATCH) {
                let rows: Vec<_> = chunk
                    .iter()
                    .map(|&i| (i64::from(i), format!("Author {i}"), Some(format!("Biography of author {i}")), None))
                    .collect();
                sql::insert_authors(c, &rows).await?;
                bar_ref.inc(chunk.len() as u64);
            }
            bar_ref.set_message("books");
            let ids: Vec<u32> = (1..=this.books).collect();
            for chunk in ids.chunks(BATCH) {
                let rows: Vec<_> = chunk.iter().map(|&i| Dataset::book(i)).collect();
                sql::insert_books(c, &rows).await?;
                bar_ref.inc(chunk.len() as u64);
            }
            bar_ref.set_message("links");
            for chunk in ids.chunks(BATCH) {
                let rows: Vec<_> = chunk.iter().flat_map(|&i| this.links(i)).collect();
                sql::insert_links(c, &rows).await?;
                bar_ref.inc(chunk.len() as u64);
            }
            bar_ref.set_message("magazines");
            let ids: Vec<u32> = (1..=this.magazines).collect();
            for chunk in ids.chunks(BATCH) {
                let rows: Vec<_> = chunk.iter().map(|&i| Dataset::magazine(i)).collect();
                sql::insert_magazines(c, &rows).await?;
                bar_ref.inc(chunk.len() as u64);
            }
            sql::sync_sequences(c).await?;
            Ok(())
        })
        .await?;
        sql::analyze(&mut conn).await?;
        // Running servers' in-process caches start afresh (Redis: see `cache::flush_shared`).
        crate::repo::notify::cache_reset(&mut conn).await?;
        bar.finish_with_message("done");
        eprintln!(
            "seeded {} authors, {} books, {} magazines in {:.1}s",
            self.authors,
            self.books,
            self.magazines,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

/// A small demo catalogue, loaded only into an empty catalogue (running it twice changes nothing).
pub async fn demo(database_url: &str) -> anyhow::Result<bool> {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .context("connecting to the database")?;
    conn.transaction::<bool, anyhow::Error, _>(async |c| {
        if !sql::catalogue_is_empty(c).await? {
            return Ok(false);
        }
        let authors = [
            (
                1,
                "Ursula K. Le Guin",
                "American author of speculative fiction.",
                1929,
            ),
            (
                2,
                "Carl Sagan",
                "Astronomer and science communicator.",
                1934,
            ),
            (3, "Mary Beard", "Historian of ancient Rome.", 1955),
            (
                4,
                "Donald Knuth",
                "Computer scientist, author of TAOCP.",
                1938,
            ),
            (5, "Astrid Lindgren", "Swedish children's author.", 1907),
            (6, "Ann Druyan", "Writer and producer.", 1949),
        ];
        let rows: Vec<_> = authors
            .iter()
            .map(|(id, name, bio, born)| {
                (*id, name.to_string(), Some(bio.to_string()), Some(*born))
            })
            .collect();
        sql::insert_authors(c, &rows).await?;
        // (isbn, title, category, year, price_cents, stock, author ids)
        type DemoBook<'a> = (&'a str, &'a str, Category, i32, i32, i32, &'a [i64]);
        let books: [DemoBook; 8] = [
            (
                "9780441478125",
                "The Left Hand of Darkness",
                Category::Fiction,
                1969,
                1599,
                12,
                &[1],
            ),
            (
                "9780553383041",
                "A Wizard of Earthsea",
                Category::Fantasy,
                1968,
                1099,
                30,
                &[1],
            ),
            (
                "9780345539434",
                "Cosmos",
                Category::Science,
                1980,
                1899,
                8,
                &[2],
            ),
            (
                "9780345379733",
                "Shadows of Forgotten Ancestors",
                Category::Science,
                1992,
                2099,
                4,
                &[2, 6],
            ),
            (
                "9781631492228",
                "SPQR: A History of Ancient Rome",
                Category::History,
                2015,
                2299,
                15,
                &[3],
            ),
            (
                "9780201896831",
                "The Art of Computer Programming, Vol. 1",
                Category::Technology,
                1997,
                7999,
                3,
                &[4],
            ),
            (
                "9780142402498",
                "Pippi Longstocking",
                Category::Children,
                1945,
                799,
                40,
                &[5],
            ),
            (
                "9780060652937",
                "The Tombs of Atuan",
                Category::Fantasy,
                1971,
                1099,
                0,
                &[1],
            ),
        ];
        let rows: Vec<_> = books
            .iter()
            .map(|(isbn, title, cat, year, price, stock, _)| BookSeed {
                isbn: isbn.to_string(),
                title: title.to_string(),
                category: cat.as_str(),
                year: *year,
                price_cents: *price,
                stock: *stock,
            })
            .collect();
        sql::insert_books(c, &rows).await?;
        let links: Vec<_> = books
            .iter()
            .flat_map(|(isbn, .., authors)| {
                authors
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (isbn.to_string(), *a, i as i16 + 1))
            })
            .collect();
        sql::insert_links(c, &links).await?;
        let mags: Vec<_> = (1..=4).map(Dataset::magazine).collect();
        sql::insert_magazines(c, &mags).await?;
        sql::sync_sequences(c).await?;
        Ok(true)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_rows_follow_the_spec() {
        let b = Dataset::book(1);
        assert_eq!(b.isbn, "9780000000019");
        assert_eq!(b.category, "non_fiction");
        assert_eq!((b.year, b.price_cents, b.stock), (1951, 537, 13));
        assert_eq!(Dataset::book(42).isbn, "9780000000422");
        let d = Dataset {
            authors: 2000,
            books: 20000,
            magazines: 500,
        };
        assert_eq!(d.links(1), vec![("9780000000019".into(), 1, 1)]);
        let l5 = d.links(5);
        assert_eq!(l5.len(), 2);
        assert_eq!(l5[1].1, 36);
        let total: usize = (1..=20000).map(|i| d.links(i).len()).sum();
        assert_eq!(total, 24000);
        let m = Dataset::magazine(1);
        assert_eq!(m.issn, "1000-0011");
        assert_eq!(
            (m.category, m.frequency, m.publisher.as_str()),
            ("technology", "monthly", "Publisher 2")
        );
    }
}
