// This file was generated with `cornucopia`. Do not modify.

#[derive(Clone, Copy, Debug)]
pub struct AddItemParams {
    pub user_id: i64,
    pub sku: i64,
    pub count: i32,
}
#[derive(Clone, Copy, Debug)]
pub struct ItemCountParams {
    pub user_id: i64,
    pub sku: i64,
}
#[derive(Clone, Copy, Debug)]
pub struct DeleteItemParams {
    pub user_id: i64,
    pub sku: i64,
}
#[derive(Clone, Copy, Debug)]
pub struct MarkCheckedOutParams {
    pub version: i64,
    pub user_id: i64,
}
#[derive(Debug)]
pub struct SubtractOrderedParams<T1: crate::ArraySql<Item = i64>, T2: crate::ArraySql<Item = i32>> {
    pub skus: T1,
    pub counts: T2,
    pub user_id: i64,
}
#[derive(Debug, Clone, PartialEq, Copy)]
pub struct CartSnapshot {
    pub version: i64,
    pub sku: Option<i64>,
    pub count: Option<i32>,
}
use crate::client::async_::GenericClient;
use futures::{self, StreamExt, TryStreamExt};
pub struct I32Query<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<i32, tokio_postgres::Error>,
    mapper: fn(i32) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> I32Query<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(self, mapper: fn(i32) -> R) -> I32Query<'c, 'a, 's, C, R, N> {
        I32Query {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct CartSnapshotQuery<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<CartSnapshot, tokio_postgres::Error>,
    mapper: fn(CartSnapshot) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> CartSnapshotQuery<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(self, mapper: fn(CartSnapshot) -> R) -> CartSnapshotQuery<'c, 'a, 's, C, R, N> {
        CartSnapshotQuery {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct I64Query<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<i64, tokio_postgres::Error>,
    mapper: fn(i64) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> I64Query<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(self, mapper: fn(i64) -> R) -> I64Query<'c, 'a, 's, C, R, N> {
        I64Query {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct AddItemStmt(&'static str, Option<tokio_postgres::Statement>);
/// Adds units of a SKU to the user's cart, creating the cart or bumping its version, in one statement.
/// A position above 65535 units breaks `cart_items_count_check` and changes nothing.
pub fn add_item() -> AddItemStmt {
    AddItemStmt(
        "WITH cart AS ( INSERT INTO carts (user_id) VALUES ($1) ON CONFLICT (user_id) DO UPDATE SET version = carts.version + 1 RETURNING user_id ) INSERT INTO cart_items (user_id, sku, count) SELECT user_id, $2, $3 FROM cart ON CONFLICT (user_id, sku) DO UPDATE SET count = cart_items.count + excluded.count RETURNING count",
        None,
    )
}
impl AddItemStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient>(
        &'s self,
        client: &'c C,
        user_id: &'a i64,
        sku: &'a i64,
        count: &'a i32,
    ) -> I32Query<'c, 'a, 's, C, i32, 3> {
        I32Query {
            client,
            params: [user_id, sku, count],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<'c, 'a, 's, C: GenericClient>
    crate::client::async_::Params<'c, 'a, 's, AddItemParams, I32Query<'c, 'a, 's, C, i32, 3>, C>
    for AddItemStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a AddItemParams,
    ) -> I32Query<'c, 'a, 's, C, i32, 3> {
        self.bind(client, &params.user_id, &params.sku, &params.count)
    }
}
pub struct ItemCountStmt(&'static str, Option<tokio_postgres::Statement>);
pub fn item_count() -> ItemCountStmt {
    ItemCountStmt(
        "SELECT count FROM cart_items WHERE user_id = $1 AND sku = $2",
        None,
    )
}
impl ItemCountStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient>(
        &'s self,
        client: &'c C,
        user_id: &'a i64,
        sku: &'a i64,
    ) -> I32Query<'c, 'a, 's, C, i32, 2> {
        I32Query {
            client,
            params: [user_id, sku],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<'c, 'a, 's, C: GenericClient>
    crate::client::async_::Params<'c, 'a, 's, ItemCountParams, I32Query<'c, 'a, 's, C, i32, 2>, C>
    for ItemCountStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a ItemCountParams,
    ) -> I32Query<'c, 'a, 's, C, i32, 2> {
        self.bind(client, &params.user_id, &params.sku)
    }
}
pub struct CartSnapshotStmt(&'static str, Option<tokio_postgres::Statement>);
/// The cart's version and positions in one statement, so they are of one state: a row per position,
/// or a single row without one when the cart is empty; none when the user never had a cart.
pub fn cart_snapshot() -> CartSnapshotStmt {
    CartSnapshotStmt(
        "SELECT carts.version, cart_items.sku, cart_items.count FROM carts LEFT JOIN cart_items ON cart_items.user_id = carts.user_id WHERE carts.user_id = $1 ORDER BY cart_items.sku",
        None,
    )
}
impl CartSnapshotStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient>(
        &'s self,
        client: &'c C,
        user_id: &'a i64,
    ) -> CartSnapshotQuery<'c, 'a, 's, C, CartSnapshot, 1> {
        CartSnapshotQuery {
            client,
            params: [user_id],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row: &tokio_postgres::Row| -> Result<CartSnapshot, tokio_postgres::Error> {
                Ok(CartSnapshot {
                    version: row.try_get(0)?,
                    sku: row.try_get(1)?,
                    count: row.try_get(2)?,
                })
            },
            mapper: |it| CartSnapshot::from(it),
        }
    }
}
pub struct DeleteItemStmt(&'static str, Option<tokio_postgres::Statement>);
/// Removes a position; the version moves only when there was one.
pub fn delete_item() -> DeleteItemStmt {
    DeleteItemStmt(
        "WITH deleted AS ( DELETE FROM cart_items WHERE user_id = $1 AND sku = $2 RETURNING user_id ) UPDATE carts SET version = version + 1 WHERE user_id IN (SELECT user_id FROM deleted) RETURNING version",
        None,
    )
}
impl DeleteItemStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient>(
        &'s self,
        client: &'c C,
        user_id: &'a i64,
        sku: &'a i64,
    ) -> I64Query<'c, 'a, 's, C, i64, 2> {
        I64Query {
            client,
            params: [user_id, sku],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<'c, 'a, 's, C: GenericClient>
    crate::client::async_::Params<'c, 'a, 's, DeleteItemParams, I64Query<'c, 'a, 's, C, i64, 2>, C>
    for DeleteItemStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a DeleteItemParams,
    ) -> I64Query<'c, 'a, 's, C, i64, 2> {
        self.bind(client, &params.user_id, &params.sku)
    }
}
pub struct ClearCartStmt(&'static str, Option<tokio_postgres::Statement>);
/// Removes every position; the version moves only when there was one.
pub fn clear_cart() -> ClearCartStmt {
    ClearCartStmt(
        "WITH deleted AS ( DELETE FROM cart_items WHERE user_id = $1 RETURNING user_id ) UPDATE carts SET version = version + 1 WHERE user_id = $1 AND EXISTS (SELECT 1 FROM deleted) RETURNING version",
        None,
    )
}
impl ClearCartStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient>(
        &'s self,
        client: &'c C,
        user_id: &'a i64,
    ) -> I64Query<'c, 'a, 's, C, i64, 1> {
        I64Query {
            client,
            params: [user_id],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
pub struct MarkCheckedOutStmt(&'static str, Option<tokio_postgres::Statement>);
/// Records that the snapshot of `version` was ordered, unless it or a later one already was; returns
/// the user's id when this call is the one that records it.
pub fn mark_checked_out() -> MarkCheckedOutStmt {
    MarkCheckedOutStmt(
        "UPDATE carts SET checked_out_version = $1, version = version + 1 WHERE user_id = $2 AND checked_out_version < $1 RETURNING user_id",
        None,
    )
}
impl MarkCheckedOutStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient>(
        &'s self,
        client: &'c C,
        version: &'a i64,
        user_id: &'a i64,
    ) -> I64Query<'c, 'a, 's, C, i64, 2> {
        I64Query {
            client,
            params: [version, user_id],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<'c, 'a, 's, C: GenericClient>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        MarkCheckedOutParams,
        I64Query<'c, 'a, 's, C, i64, 2>,
        C,
    > for MarkCheckedOutStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a MarkCheckedOutParams,
    ) -> I64Query<'c, 'a, 's, C, i64, 2> {
        self.bind(client, &params.version, &params.user_id)
    }
}
pub struct SubtractOrderedStmt(&'static str, Option<tokio_postgres::Statement>);
/// Takes `counts[i]` units of `skus[i]` out of the cart: positions that run out go, others shrink.
pub fn subtract_ordered() -> SubtractOrderedStmt {
    SubtractOrderedStmt(
        "WITH ordered AS ( SELECT * FROM unnest($1::bigint[], $2::integer[]) AS ordered (sku, count) ), emptied AS ( DELETE FROM cart_items USING ordered WHERE cart_items.user_id = $3 AND cart_items.sku = ordered.sku AND cart_items.count <= ordered.count ) UPDATE cart_items SET count = cart_items.count - ordered.count FROM ordered WHERE cart_items.user_id = $3 AND cart_items.sku = ordered.sku AND cart_items.count > ordered.count RETURNING cart_items.sku",
        None,
    )
}
impl SubtractOrderedStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<
        'c,
        'a,
        's,
        C: GenericClient,
        T1: crate::ArraySql<Item = i64>,
        T2: crate::ArraySql<Item = i32>,
    >(
        &'s self,
        client: &'c C,
        skus: &'a T1,
        counts: &'a T2,
        user_id: &'a i64,
    ) -> I64Query<'c, 'a, 's, C, i64, 3> {
        I64Query {
            client,
            params: [skus, counts, user_id],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<'c, 'a, 's, C: GenericClient, T1: crate::ArraySql<Item = i64>, T2: crate::ArraySql<Item = i32>>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        SubtractOrderedParams<T1, T2>,
        I64Query<'c, 'a, 's, C, i64, 3>,
        C,
    > for SubtractOrderedStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a SubtractOrderedParams<T1, T2>,
    ) -> I64Query<'c, 'a, 's, C, i64, 3> {
        self.bind(client, &params.skus, &params.counts, &params.user_id)
    }
}
