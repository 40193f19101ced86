//! `[stack] tags`, `[discovery]`, `[network]` and `[aws]`: each new check, located.

use super::*;

/// Lines 1-9: a valid file; what follows starts on line 10.
macro_rules! base {
    () => {
        concat!(head!(), web!(), routes!())
    };
}

#[rustfmt::skip]
const BAD: &[Row] = &[
    // Tags.
    ("version = 1\n[stack]\nname = \"s\"\nregion = \"us-east-1\"\ntags = { \"aws:team\" = \"x\" }\n",
        5, 10, "stack.tags.\"aws:team\"", "invalid tag key `aws:team`"),
    ("version = 1\n[stack]\nname = \"s\"\nregion = \"us-east-1\"\ntags = { team = 1 }\n",
        5, 17, "stack.tags.team", "expected a string, found an integer"),
    ("version = 1\n[stack]\nname = \"s\"\nregion = \"us-east-1\"\ntags = { team = \"a;b\" }\n",
        5, 17, "stack.tags.team", "invalid tag value"),
    ("version = 1\n[stack]\nname = \"s\"\nregion = \"us-east-1\"\ntags = { \"a!\" = \"b\" }\n",
        5, 10, "stack.tags.\"a!\"", "invalid tag key"),
    ("version = 1\n[stack]\nname = \"s\"\nregion = \"us-east-1\"\ntag = {}\n",
        5, 1, "stack.tag", "unknown key `tag`"),
    // Discovery.
    (concat!(base!(), "[discovery]\nhealth_propagation_ms = 60001\n"),
        11, 25, "discovery.health_propagation_ms", "between 0 and 60000"),
    (concat!(base!(), "[discovery]\ncustom_health_check = \"no\"\n"),
        11, 23, "discovery.custom_health_check", "expected a boolean"),
    // Network.
    (concat!(base!(), "[network]\nvpc_id = \"vpc-0123abcd\"\n"),
        11, 10, "network.vpc_id", "`vpc_id` without `subnet_ids`"),
    (concat!(base!(), "[network]\nsubnet_ids = [\"subnet-0123abcd\"]\n"),
        11, 14, "network.subnet_ids", "`subnet_ids` without `vpc_id`"),
    (concat!(base!(), "[network]\nvpc_id = \"vpc-123\"\nsubnet_ids = [\"subnet-0123abcd\"]\n"),
        11, 10, "network.vpc_id", "invalid VPC id `vpc-123`"),
    (concat!(base!(), "[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123ABCD\"]\n"),
        12, 15, "network.subnet_ids[0]", "invalid subnet id"),
    (concat!(base!(), "[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = []\n"),
        12, 14, "network.subnet_ids", "must not be empty"),
    (concat!(base!(), "[network]\nvpc_id = \"vpc-0123abcd\"\n",
        "subnet_ids = [\"subnet-0123abcd\", \"subnet-0123abcd\"]\n"),
        12, 34, "network.subnet_ids[1]", "listed twice"),
    (concat!(base!(), "[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\"]\n",
        "cidr = \"10.1.0.0/16\"\n"),
        13, 8, "network.cidr", "`cidr` describes a new VPC"),
    (concat!(base!(), "[network]\ncidr = \"10.0.0.0/8\"\n"), 11, 8, "network.cidr", "a /8 block cannot be a VPC"),
    (concat!(base!(), "[network]\ncidr = \"10.0.0.1/16\"\n"), 11, 8, "network.cidr", "has host bits set"),
    (concat!(base!(), "[network]\ncidr = \"10.0.0/16\"\n"), 11, 8, "network.cidr", "not an IPv4 CIDR block"),
    (concat!(base!(), "[network]\navailability_zones = 4\n"),
        11, 22, "network.availability_zones", "between 1 and 3"),
    (concat!(base!(), "[network]\nassign_public_ip = 1\n"),
        11, 20, "network.assign_public_ip", "expected a boolean"),
    (concat!(base!(), "[network]\nvpc = \"x\"\n"), 11, 1, "network.vpc", "unknown key"),
    // AWS.
    (concat!(base!(), "[aws]\necr_keep_images = 0\n"), 11, 19, "aws.ecr_keep_images", "between 1 and 1000"),
    (concat!(base!(), "[aws]\naccount_id = \"1234\"\n"), 11, 14, "aws.account_id", "invalid account id"),
    (concat!(base!(), "[aws]\naccount_id = 123456789012\n"), 11, 14, "aws.account_id", "expected a string"),
    (concat!(base!(), "[aws]\nregion = \"x\"\n"), 11, 1, "aws.region", "unknown key"),
    (concat!(base!(), "[nework]\n"), 10, 2, "nework", "unknown key `nework`"),
];

#[test]
fn bad_stack_input_is_located() {
    for (text, line, column, field, message) in BAD {
        check(text, *line, *column, field, message);
    }
}

#[test]
fn long_tags_are_refused() {
    let key = "k".repeat(129);
    let text = format!("{}tags = {{ {key} = \"v\" }}\n", head!());
    let err = check(
        &text,
        5,
        10,
        &format!("stack.tags.{key}"),
        "invalid tag key",
    );
    assert_eq!(help(&err), "a tag key is 1 to 128 characters");

    let value = "v".repeat(257);
    let text = format!("{}tags = {{ k = \"{value}\" }}\n", head!());
    check(&text, 5, 14, "stack.tags.k", "invalid tag value");

    let tags: Vec<String> = (0..51).map(|i| format!("k{i} = \"v\"")).collect();
    let text = format!("{}tags = {{ {} }}\n", head!(), tags.join(", "));
    check(&text, 5, 8, "stack.tags", "51 tags, at most 50");
}

#[test]
fn stack_wide_values_are_read() {
    let text = concat!(
        base!(),
        "[network]\ncidr = \"172.16.0.0/20\"\navailability_zones = 3\n",
        "[discovery]\nhealth_propagation_ms = 30000\ncustom_health_check = false\n",
        "[aws]\n"
    );
    let stack = parse(file(), text).unwrap();
    let cidr = Ipv4Cidr {
        addr: Ipv4Addr::new(172, 16, 0, 0),
        prefix: 20,
    };
    assert_eq!(cidr.to_string(), "172.16.0.0/20");
    assert_eq!(stack.network.vpc, Vpc::New { cidr, azs: 3 });
    assert!(stack.network.assign_public_ip);
    assert_eq!(stack.discovery.health_propagation, Duration::from_secs(30));
    assert!(!stack.discovery.custom_health_check);
    assert_eq!(
        stack.aws,
        Aws {
            ecr_keep_images: 5,
            account_id: None
        }
    );
}
