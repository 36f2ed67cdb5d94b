"""Calls Axion's gRPC API with grpcio and the stubs generated from schemas/.

Prints one JSON object per call to stdout: the call, the gRPC status code name and, when it
succeeded, what it answered (proto JSON, field names as in the .proto files):

  ListProjects      with the token, paging until the project is found (or the pages end)
  GetDeployment     with the token
  ListDeployments   with the token, filtered by the project
  ListProjects      without a token                  (Axion answers UNAUTHENTICATED)
  ListDeployments   with the token and page_size -1  (Axion answers INVALID_ARGUMENT)

    python grpc_client.py --address HOST:PORT --token TOKEN --generated GEN \\
        --project-id P --deployment-id D

GEN holds the classes generated from schemas/ (see axion_protos.py). The token travels as
`authorization: Bearer <token>` metadata, the scheme AXION_API_TOKENS configures.
"""

import argparse
import json
import sys

import grpc
from google.protobuf import json_format

import axion_protos

MAX_PAGES = 1000


def as_json(message):
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def call(name, rpc, request, metadata):
    """Runs one unary call; returns (answer or None, the JSON line's dict)."""
    try:
        answer = rpc(request, metadata=metadata, timeout=30)
        return answer, {"call": name, "code": grpc.StatusCode.OK.name}
    except grpc.RpcError as error:
        return None, {"call": name, "code": error.code().name, "message": error.details()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--generated", required=True, help="dir of the generated classes")
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--deployment-id", required=True)
    args = parser.parse_args()

    modules = axion_protos.load(args.generated)
    project_pb2, deployment_pb2 = modules["project_pb2"], modules["deployment_pb2"]
    # Imported after load(): the stubs import the message modules by their generated names.
    import axion.v1.deployment_pb2_grpc as deployment_grpc
    import axion.v1.project_pb2_grpc as project_grpc

    auth = (("authorization", f"Bearer {args.token}"),)
    out = []
    with grpc.insecure_channel(args.address) as channel:
        projects = project_grpc.ProjectServiceStub(channel)
        deployments = deployment_grpc.DeploymentServiceStub(channel)

        request = project_pb2.ListProjectsRequest(page_size=50)
        line = {"call": "ListProjects", "code": "OK", "pages": 0, "project": None}
        for _ in range(MAX_PAGES):
            answer, status = call("ListProjects", projects.ListProjects, request, auth)
            if answer is None:
                line = status
                break
            line["pages"] += 1
            found = [p for p in answer.projects if p.project_id == args.project_id]
            if found:
                line["project"] = as_json(found[0])
                break
            if not answer.next_page_token:
                break
            request.page_token = answer.next_page_token
        out.append(line)

        answer, line = call("GetDeployment", deployments.GetDeployment,
                            deployment_pb2.GetDeploymentRequest(
                                deployment_id=args.deployment_id), auth)
        if answer is not None:
            line["deployment"] = as_json(answer.deployment)
        out.append(line)

        answer, line = call("ListDeployments", deployments.ListDeployments,
                            deployment_pb2.ListDeploymentsRequest(project_id=args.project_id),
                            auth)
        if answer is not None:
            line["deployments"] = [as_json(d) for d in answer.deployments]
        out.append(line)

        _, line = call("ListProjects", projects.ListProjects, project_pb2.ListProjectsRequest(),
                       ())
        line["without_token"] = True
        out.append(line)

        _, line = call("ListDeployments", deployments.ListDeployments,
                       deployment_pb2.ListDeploymentsRequest(project_id=args.project_id,
                                                             page_size=-1), auth)
        line["page_size"] = -1
        out.append(line)

    for line in out:
        print(json.dumps(line, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
