"""The gRPC API (package webmesh.v1): generated code, converters, servicers, interceptors, server.

Servicers are thin: convert the request, call a service, convert the answer. Domain errors map to
status codes in one table (``webmesh.client.status``). May import webmesh.service and the layers
below.
"""
