//! `walkout demo`: sets up the embedded store (database, catalogue and
//! planogram from the configured calibration folder, ONNX Runtime) and
//! reports what it loaded. It grows as the parts land and never prints
//! invented results.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::db::Storage;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Storage(#[from] crate::db::DbError),
    #[error(transparent)]
    Runtime(#[from] crate::vision::runtime::RuntimeError),
}

/// What the demo set up, measured from storage after the install.
#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub store: String,
    pub database: String,
    pub schema_version: i64,
    pub products: usize,
    pub age_restricted: usize,
    pub plates: usize,
    pub multi_plate_products: usize,
    pub onnxruntime: String,
}

pub async fn run(config: &Config) -> Result<DemoReport, DemoError> {
    let catalog = Catalog::load(&config.store.calibration_dir)?;
    let storage = crate::open_storage(&config.database).await?;
    catalog.install(&storage, crate::now_ms()).await?;
    let store_id = &catalog.store.id;
    let products = storage.list_products(store_id).await?;
    let facings = storage.list_facings(store_id).await?;
    let plates: std::collections::BTreeSet<&str> = facings.iter().map(|f| f.plate_id.as_str()).collect();
    let runtime = crate::vision::runtime::init(&config.onnxruntime.library_path)?;
    let report = DemoReport {
        store: format!("{} ({})", catalog.store.name, store_id),
        database: storage.backend().to_owned(),
        schema_version: storage.schema_version().await?,
        products: products.len(),
        age_restricted: products.iter().filter(|p| p.age_restricted).count(),
        plates: plates.len(),
        multi_plate_products: catalog.multi_plate_products(),
        onnxruntime: format!("{} from {}", runtime.version, runtime.path.display()),
    };
    storage.close().await;
    Ok(report)
}
