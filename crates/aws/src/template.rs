//! What deploy reads from a synthesized CloudFormation template (the JSON of
//! `albless_synth::synthesize`): which parameter carries each service's image, which
//! ECR repository holds it, and the "bootstrap" template that creates only the
//! repositories, so that an image can be pushed before the services that run it exist.
//!
//! Everything is found through the template's own structure (a task definition's
//! container `Image` that is a `Ref` to a parameter; repositories by resource type), not
//! by re-deriving synth's logical ids. Known limit: a container whose `Image` is not a
//! plain `Ref` (a `Fn::Sub`, a literal) has no image parameter and is deployed as written.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// How one service's image reaches the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSlot {
    /// The container (and service) name.
    pub container: String,
    /// The template parameter holding the image URI.
    pub parameter: String,
    /// Logical id of the task definition.
    pub task_definition: String,
    /// Logical id of the ECR repository meant for this service's image, if the template
    /// has one.
    pub repository: Option<String>,
}

/// The template's resources of `kind`, as `(logical id, resource)`.
pub fn resources_of<'a>(
    template: &'a Value,
    kind: &'a str,
) -> impl Iterator<Item = (&'a str, &'a Value)> {
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(move |(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str(), r))
}

/// Every container whose image is a parameter, with the repository meant for it.
///
/// A repository belongs to a service when its logical id starts with the stem of the
/// service's task definition id (`BackendTaskDefinition` -> `Backend...Repository`), or
/// when the template has exactly one repository and one image slot.
pub fn image_slots(template: &Value) -> Vec<ImageSlot> {
    let repositories: Vec<&str> = resources_of(template, "AWS::ECR::Repository")
        .map(|(id, _)| id)
        .collect();
    let mut slots = Vec::new();
    for (id, task) in resources_of(template, "AWS::ECS::TaskDefinition") {
        let stem = id.strip_suffix("TaskDefinition").unwrap_or(id);
        for container in task["Properties"]["ContainerDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(parameter)) = (
                container["Name"].as_str(),
                container["Image"]["Ref"].as_str(),
            ) else {
                continue;
            };
            let repository = repositories
                .iter()
                .find(|r| !stem.is_empty() && r.starts_with(stem))
                .map(|r| r.to_string());
            slots.push(ImageSlot {
                container: name.to_string(),
                parameter: parameter.to_string(),
                task_definition: id.to_string(),
                repository,
            });
        }
    }
    if repositories.len() == 1 && slots.len() == 1 && slots[0].repository.is_none() {
        slots[0].repository = Some(repositories[0].to_string());
    }
    slots
}

/// The template cut down to its ECR repositories (same logical ids and properties), or
/// `None` when it has none. Deploying it first creates the repositories, so the images
/// can be pushed before the task definitions that name them; the full template then
/// leaves them unchanged.
pub fn bootstrap(template: &Value) -> Option<Value> {
    let repositories: Map<String, Value> = resources_of(template, "AWS::ECR::Repository")
        .map(|(id, r)| {
            let mut r = r.clone();
            // A repository may depend on nothing else in the cut-down template.
            if let Some(o) = r.as_object_mut() {
                o.remove("DependsOn");
            }
            (id.to_string(), r)
        })
        .collect();
    if repositories.is_empty() {
        return None;
    }
    Some(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": template["Description"],
        "Resources": repositories,
    }))
}

/// The template's parameters that have no default, by name.
pub fn required_parameters(template: &Value) -> BTreeSet<String> {
    template["Parameters"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, p)| p.get("Default").is_none())
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Value {
        json!({
            "Parameters": {"BackendImage": {"Type": "String"}, "WebImage": {"Type": "String", "Default": "nginx"}},
            "Resources": {
                "BackendRepository": {"Type": "AWS::ECR::Repository", "Properties": {"EmptyOnDelete": true}, "DependsOn": ["X"]},
                "BackendTaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                    "ContainerDefinitions": [{"Name": "backend", "Image": {"Ref": "BackendImage"}}]}},
                "WebTaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                    "ContainerDefinitions": [{"Name": "web", "Image": {"Ref": "WebImage"}}]}},
                "Cluster": {"Type": "AWS::ECS::Cluster"}
            }
        })
    }

    #[test]
    fn slots_pair_containers_with_their_repository() {
        let slots = image_slots(&template());
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0].container, "backend");
        assert_eq!(slots[0].parameter, "BackendImage");
        assert_eq!(slots[0].repository.as_deref(), Some("BackendRepository"));
        assert_eq!(slots[1].container, "web");
        assert_eq!(slots[1].repository, None);
    }

    #[test]
    fn bootstrap_keeps_only_repositories() {
        let b = bootstrap(&template()).unwrap();
        let resources = b["Resources"].as_object().unwrap();
        assert_eq!(resources.keys().collect::<Vec<_>>(), ["BackendRepository"]);
        assert!(resources["BackendRepository"].get("DependsOn").is_none());
        assert!(bootstrap(&json!({"Resources": {}})).is_none());
    }

    #[test]
    fn required_parameters_are_those_without_default() {
        let r = required_parameters(&template());
        assert_eq!(r.into_iter().collect::<Vec<_>>(), ["BackendImage"]);
    }
}
