//! The example stack `examples/docker` reads as the Docker driver's demo: one service
//! built from `app/`, two replicas on port 8080, with a health check.

use std::path::Path;

use albless_spec::{Driver, HealthCheckKind};

#[test]
fn the_example_stack_is_a_docker_service_built_from_its_folder() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/docker/albless.toml");
    let stack = albless_spec::load(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let backend = &stack.services["backend"];
    assert_eq!(backend.driver, Driver::Docker);
    assert_eq!(backend.command, None);
    let build = backend
        .build
        .as_ref()
        .expect("the service builds its image");
    assert!(
        build.join("Dockerfile").is_file(),
        "no Dockerfile in {}",
        build.display()
    );
    assert!(build.ends_with("app"), "{}", build.display());
    assert_eq!(backend.desired_count, 2);
    assert_eq!(backend.port, 8080);
    let check = backend.health_check.as_ref().expect("a health check");
    assert_eq!(
        check.kind,
        HealthCheckKind::Http {
            path: "/health".into()
        }
    );
}
