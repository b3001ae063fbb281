//! Model routes (aliases): list, read, create, replace, delete.

use gproxy_core::config::{FileConfig, RouteConfig, TargetConfig, is_weighted};
use gproxy_core::model_route::{RouteTarget, Strategy};
use gproxy_storage::{ModelRouteRow, NewModelRoute};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::json::parse;
use crate::request::Reply;
use crate::routes::Call;

/// A model route as reads show it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RouteView {
    /// Row id.
    pub id: i64,
    /// The model name clients ask for.
    pub name: String,
    /// `ordered` (first usable target) or `weighted`.
    pub strategy: String,
    /// Targets in order.
    pub targets: Vec<TargetView>,
    /// Whether it resolves.
    pub enabled: bool,
}

/// One target.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TargetView {
    /// Provider name.
    pub provider: String,
    /// Upstream model.
    pub model: String,
    /// Weight (weighted routes).
    pub weight: u32,
}

/// A target as given: `"provider/model"`, or with a weight.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TargetInput {
    /// `provider/model`.
    Plain(String),
    /// `{"target": "provider/model", "weight": 3}`.
    Weighted {
        /// `provider/model`.
        target: String,
        /// At least 1.
        weight: u32,
    },
}

/// `POST /routes` (and `PUT /routes/{name}`, where `name` may be absent).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteInput {
    /// The model name clients ask for.
    pub name: Option<String>,
    /// Targets in order; weighted when any has a weight.
    pub targets: Vec<TargetInput>,
    /// Default true.
    pub enabled: Option<bool>,
}

fn view(row: ModelRouteRow) -> RouteView {
    let targets: Vec<TargetView> = serde_json::from_value(row.targets).unwrap_or_default();
    RouteView {
        id: row.id,
        name: row.name,
        strategy: row.strategy,
        targets,
        enabled: row.enabled,
    }
}

async fn checked(call: &Call, name: &str, input: &RouteInput) -> Result<NewModelRoute, ApiError> {
    let targets: Vec<TargetConfig> = input
        .targets
        .iter()
        .map(|t| match t {
            TargetInput::Plain(s) => TargetConfig::Plain(s.clone()),
            TargetInput::Weighted { target, weight } => {
                TargetConfig::Weighted(gproxy_core::config::WeightedTarget {
                    target: target.clone(),
                    weight: *weight,
                })
            }
        })
        .collect();
    let file = FileConfig {
        routes: vec![RouteConfig {
            model: name.to_owned(),
            targets: targets.clone(),
        }],
        ..FileConfig::default()
    };
    file.validate().map_err(|(field, message)| {
        let field = field
            .strip_prefix("routes[0].")
            .unwrap_or(&field)
            .replace("model", "name");
        ApiError::field(field, message)
    })?;
    let providers: Vec<String> = call
        .ctx
        .storage
        .list_providers()
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    let mut out = Vec::with_capacity(targets.len());
    for (j, t) in targets.iter().enumerate() {
        let Some((provider, model)) = t.split() else {
            return Err(ApiError::field(
                format!("targets[{j}]"),
                format!("`{}` must be `provider/model`", t.target()),
            ));
        };
        if !providers.iter().any(|p| p == provider) {
            return Err(ApiError::field(
                format!("targets[{j}]"),
                format!("no provider `{provider}`"),
            ));
        }
        out.push(RouteTarget {
            provider: provider.to_owned(),
            model: model.to_owned(),
            weight: t.weight(),
        });
    }
    let strategy = if is_weighted(&targets) {
        Strategy::Weighted
    } else {
        Strategy::Ordered
    };
    Ok(NewModelRoute {
        name: name.to_owned(),
        strategy: strategy.as_str().to_owned(),
        targets: serde_json::to_value(&out).map_err(ApiError::internal)?,
        enabled: input.enabled.unwrap_or(true),
    })
}

/// `GET /routes`.
pub async fn list(call: Call) -> Result<Reply, ApiError> {
    let rows = call.ctx.storage.list_model_routes().await?;
    Reply::ok(&rows.into_iter().map(view).collect::<Vec<_>>())
}

async fn find(call: &Call) -> Result<ModelRouteRow, ApiError> {
    let name = call.param(0);
    call.ctx
        .storage
        .get_model_route(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no model route `{name}`")))
}

/// `GET /routes/{name}`.
pub async fn get(call: Call) -> Result<Reply, ApiError> {
    Reply::ok(&view(find(&call).await?))
}

/// `POST /routes`.
pub async fn create(call: Call) -> Result<Reply, ApiError> {
    let input: RouteInput = parse(&call.req.body)?;
    let Some(name) = input.name.clone() else {
        return Err(ApiError::field("name", "required"));
    };
    let new = checked(&call, &name, &input).await?;
    if call.ctx.storage.get_model_route(&name).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "model route `{name}` already exists"
        )));
    }
    Reply::created(&view(call.ctx.storage.upsert_model_route(&new).await?))
}

/// `PUT /routes/{name}`: replaces the targets and the enabled flag.
pub async fn replace(call: Call) -> Result<Reply, ApiError> {
    let input: RouteInput = parse(&call.req.body)?;
    let existing = find(&call).await?;
    if let Some(name) = &input.name
        && *name != existing.name
    {
        return Err(ApiError::field(
            "name",
            "differs from the route in the path (renaming is delete + create)",
        ));
    }
    let new = checked(&call, &existing.name, &input).await?;
    Reply::ok(&view(call.ctx.storage.upsert_model_route(&new).await?))
}

/// `DELETE /routes/{name}`.
pub async fn delete(call: Call) -> Result<Reply, ApiError> {
    let row = find(&call).await?;
    call.ctx.storage.delete_model_route(&row.name).await?;
    Ok(Reply::no_content())
}
