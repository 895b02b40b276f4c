"""What Tempest needs in a fresh cloud, made over the APIs as an admin would.

Two public images uploaded from the repo's test guest (Tempest's
`image_ref` and `image_ref_alt`), two flavors (`flavor_ref` 42 and
`flavor_ref_alt` 84), a shared network with a subnet for the guests
(`fixed_network_name`; Tempest does not make each test project its own
routed network: `create_isolated_networks` is off), and the floating IP
pool `public`: an external network with a subnet and a router from it to
the shared network (`public_network_id`). Prints four lines: the two
image ids, the network's name, the network API's extension aliases
(comma-separated, for Tempest's `api_extensions`) and the public
network's id. Standard library only, so it runs in any virtualenv.

Usage: OS_AUTH_URL=... OS_PASSWORD=... python setup_cloud.py GUEST.qcow2
"""

import json
import os
import sys
import time
import urllib.request


def call(method, url, token=None, body=None, data=None, content_type="application/json"):
    headers = {"Content-Type": content_type}
    if token:
        headers["X-Auth-Token"] = token
    if body is not None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=300) as resp:
        raw = resp.read()
        return resp.headers, (json.loads(raw) if raw else None)


def main():
    auth = os.environ["OS_AUTH_URL"].rstrip("/")
    headers, body = call("POST", f"{auth}/auth/tokens", body={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "password": os.environ["OS_PASSWORD"],
            "domain": {"id": "default"}}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
    token = headers["X-Subject-Token"]

    def endpoint(kind):
        for svc in body["token"]["catalog"]:
            if svc["type"] == kind:
                for e in svc["endpoints"]:
                    if e["interface"] == "public":
                        return e["url"].rstrip("/")
        sys.exit(f"no {kind} endpoint in the catalog")

    glance, nova, neutron = endpoint("image"), endpoint("compute"), endpoint("network")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    ids = []
    for name in ("tempest-guest", "tempest-guest-alt"):
        _, image = call("POST", f"{glance}/v2/images", token, {
            "name": name, "disk_format": "qcow2", "container_format": "bare",
            "visibility": "public"})
        call("PUT", f"{glance}/v2/images/{image['id']}/file", token, data=data,
             content_type="application/octet-stream")
        for _ in range(600):
            _, shown = call("GET", f"{glance}/v2/images/{image['id']}", token)
            if shown["status"] == "active":
                break
            if shown["status"] not in ("queued", "saving", "importing"):
                sys.exit(f"image {name} is {shown['status']}")
            time.sleep(0.1)
        else:
            sys.exit(f"image {name} never became active")
        ids.append(image["id"])
    for fid, name, ram, disk in (("42", "m1.nano", 256, 1), ("84", "m1.micro", 320, 2)):
        call("POST", f"{nova}/flavors", token, {"flavor": {
            "id": fid, "name": name, "ram": ram, "disk": disk, "vcpus": 1}})
    _, net = call("POST", f"{neutron}/v2.0/networks", token, {"network": {
        "name": "tempest-shared", "shared": True}})
    _, subnet = call("POST", f"{neutron}/v2.0/subnets", token, {"subnet": {
        "name": "tempest-shared-v4", "network_id": net["network"]["id"],
        "ip_version": 4, "cidr": "10.199.0.0/22"}})
    # The floating IP pool: an external network routed to the shared one,
    # as an operator offers floating IPs.
    _, public = call("POST", f"{neutron}/v2.0/networks", token, {"network": {
        "name": "public", "router:external": True}})
    call("POST", f"{neutron}/v2.0/subnets", token, {"subnet": {
        "name": "public-v4", "network_id": public["network"]["id"],
        "ip_version": 4, "cidr": "172.24.4.0/24", "enable_dhcp": False}})
    _, router = call("POST", f"{neutron}/v2.0/routers", token, {"router": {
        "name": "tempest-public",
        "external_gateway_info": {"network_id": public["network"]["id"]}}})
    call("PUT", f"{neutron}/v2.0/routers/{router['router']['id']}/add_router_interface",
         token, {"subnet_id": subnet["subnet"]["id"]})
    _, ext = call("GET", f"{neutron}/v2.0/extensions", token)
    print(ids[0], ids[1])
    print(net["network"]["name"])
    print(",".join(sorted(e["alias"] for e in ext["extensions"])))
    print(public["network"]["id"])


if __name__ == "__main__":
    main()
