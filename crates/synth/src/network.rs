//! The network: a new VPC with one public subnet per availability zone, an internet
//! gateway and a public route table, and no NAT gateway (tasks reach the internet through
//! their public IP), as the original stack builds it; or an existing VPC and subnets. Then
//! the VPC link and its security group, whose egress the services open one port at a time.
//!
//! Known limits: a new VPC's block is split evenly between its subnets (the whole block for
//! one zone, halves for two, quarters for three); a block too small for that (a `/28` split
//! in two) gets fewer subnets, as a subnet cannot be smaller than `/28`.

use std::net::Ipv4Addr;

use albless_spec::{Ipv4Cidr, Stack, Vpc};

use crate::Builder;
use crate::node::{Node, Obj, get_att, reference, tag_list, tag_map};

/// Id of the VPC link's security group.
pub(crate) const LINK_SG: &str = "VpcLinkSecurityGroup";
/// Id of the VPC link.
pub(crate) const LINK: &str = "VpcLink";

/// What the rest of the template needs from the network.
pub(crate) struct Net {
    /// The VPC id (a `Ref` or a literal).
    pub(crate) vpc: Node,
    /// The subnets tasks and the VPC link use.
    pub(crate) subnets: Vec<Node>,
}

/// Adds the VPC (when new), the VPC link's security group and the VPC link.
pub(crate) fn build(t: &mut Builder, stack: &Stack) -> Net {
    let net = match &stack.network.vpc {
        Vpc::Existing { vpc_id, subnet_ids } => Net {
            vpc: vpc_id.as_str().into(),
            subnets: subnet_ids.iter().map(Node::from).collect(),
        },
        Vpc::New { cidr, azs } => new_vpc(t, stack, *cidr, *azs),
    };

    // The link's group allows no egress until each service opens its port to its tasks'
    // group (`ecs.rs`). CloudFormation gives a new group an allow-all egress rule unless
    // the template lists rules, so it lists one that matches nothing (ICMP type 252, code
    // 86, to 255.255.255.255/32), the usual way to say "none".
    let sg = Obj::new()
        .set(
            "GroupDescription",
            format!("{}: the VPC link; egress only to task ports", stack.name),
        )
        .set(
            "SecurityGroupEgress",
            vec![
                Obj::new()
                    .set("CidrIp", "255.255.255.255/32")
                    .set("Description", "Disallow all traffic")
                    .set("FromPort", 252u32)
                    .set("IpProtocol", "icmp")
                    .set("ToPort", 86u32),
            ],
        )
        .set("VpcId", net.vpc.clone())
        .opt(
            "Tags",
            tag_list(&named(&t.tags, &format!("{}/vpc-link", stack.name))),
        );
    t.resource(LINK_SG, "AWS::EC2::SecurityGroup", sg, &[]);

    // aws-behavior.md section 2.3: subnets and groups are fixed at creation.
    let link = Obj::new()
        .set("Name", format!("{}-link", stack.name))
        .set("SecurityGroupIds", vec![get_att(LINK_SG, "GroupId")])
        .set("SubnetIds", net.subnets.clone())
        .opt("Tags", tag_map(&t.tags));
    t.resource(LINK, "AWS::ApiGatewayV2::VpcLink", link, &[]);
    net
}

/// A new VPC with public subnets only.
fn new_vpc(t: &mut Builder, stack: &Stack, cidr: Ipv4Cidr, azs: u32) -> Net {
    let name = format!("{}/vpc", stack.name);
    // Private DNS namespaces need DNS support and host names in the VPC (Cloud Map
    // creates a Route 53 private hosted zone).
    let vpc = Obj::new()
        .set("CidrBlock", cidr.to_string())
        .set("EnableDnsHostnames", true)
        .set("EnableDnsSupport", true)
        .opt("Tags", tag_list(&named(&t.tags, &name)));
    t.resource("Vpc", "AWS::EC2::VPC", vpc, &[]);

    let igw = Obj::new().opt("Tags", tag_list(&named(&t.tags, &name)));
    t.resource("VpcInternetGateway", "AWS::EC2::InternetGateway", igw, &[]);
    let attach = Obj::new()
        .set("InternetGatewayId", reference("VpcInternetGateway"))
        .set("VpcId", reference("Vpc"));
    t.resource(
        "VpcGatewayAttachment",
        "AWS::EC2::VPCGatewayAttachment",
        attach,
        &[],
    );

    let table = Obj::new()
        .set("VpcId", reference("Vpc"))
        .opt("Tags", tag_list(&named(&t.tags, &format!("{name}/public"))));
    t.resource("VpcPublicRouteTable", "AWS::EC2::RouteTable", table, &[]);
    let route = Obj::new()
        .set("DestinationCidrBlock", "0.0.0.0/0")
        .set("GatewayId", reference("VpcInternetGateway"))
        .set("RouteTableId", reference("VpcPublicRouteTable"));
    // The route needs the gateway attached, which a `Ref` to the gateway does not imply.
    let after = ["VpcGatewayAttachment".to_owned()];
    t.resource("VpcPublicDefaultRoute", "AWS::EC2::Route", route, &after);

    let mut subnets = Vec::new();
    for (i, block) in split(cidr, azs).into_iter().enumerate() {
        let id = format!("VpcPublicSubnet{}", i + 1);
        let az = Obj::new().set(
            "Fn::Select",
            vec![
                Node::from(i as u32),
                Obj::new().set("Fn::GetAZs", "").into(),
            ],
        );
        let subnet = Obj::new()
            .set("AvailabilityZone", az)
            .set("CidrBlock", block.to_string())
            .set("MapPublicIpOnLaunch", true)
            .set("VpcId", reference("Vpc"))
            .opt(
                "Tags",
                tag_list(&named(&t.tags, &format!("{name}/public-{}", i + 1))),
            );
        t.resource(&id, "AWS::EC2::Subnet", subnet, &[]);
        let assoc = Obj::new()
            .set("RouteTableId", reference("VpcPublicRouteTable"))
            .set("SubnetId", reference(&id));
        t.resource(
            &format!("{id}RouteTableAssociation"),
            "AWS::EC2::SubnetRouteTableAssociation",
            assoc,
            &[],
        );
        subnets.push(reference(&id));
    }
    Net {
        vpc: reference("Vpc"),
        subnets,
    }
}

/// `cidr` split into `count` equal blocks (rounded up to a power of two), none smaller
/// than `/28`.
pub(crate) fn split(cidr: Ipv4Cidr, count: u32) -> Vec<Ipv4Cidr> {
    let mut bits = 0u8;
    while (1u32 << bits) < count.max(1) {
        bits += 1;
    }
    while cidr.prefix + bits > 28 && bits > 0 {
        bits -= 1;
    }
    let count = count.min(1 << bits);
    let prefix = cidr.prefix + bits;
    let size = 1u64 << (32 - u32::from(prefix));
    let base = u64::from(u32::from(cidr.addr));
    (0..u64::from(count))
        .map(|i| Ipv4Cidr {
            addr: Ipv4Addr::from((base + i * size) as u32),
            prefix,
        })
        .collect()
}

/// The stack's tags plus a `Name` tag (unless the stack sets one).
pub(crate) fn named(tags: &[(String, String)], name: &str) -> Vec<(String, String)> {
    let mut out = tags.to_vec();
    if !out.iter().any(|(k, _)| k == "Name") {
        out.push(("Name".to_owned(), name.to_owned()));
    }
    out
}
