// The Open Inference Protocol's gRPC service (inference.GRPCInferenceService)
// over a ServingRouter: tensors in `contents` or `raw_input_contents`, the
// same conversions as the REST front end (v2_protocol.h). The caller's
// `authorization: Bearer TOKEN` metadata is passed to the task's worker.
#ifndef MLIOT_FRONTEND_V2_GRPC_SERVICE_H_
#define MLIOT_FRONTEND_V2_GRPC_SERVICE_H_

#include <functional>
#include <string>

#include "frontend/serving_router.h"
#include "frontend/v2_protocol.h"
#include "inference/grpc_service.grpc.pb.h"

namespace mliot::v2 {

class RequestObserver;  // infer_call.h

class V2GrpcService final : public inference::GRPCInferenceService::Service {
 public:
  V2GrpcService(ServingRouter* router, RequestObserver* observer) : router_(router), observer_(observer) {}

  grpc::Status ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* response) override;
  grpc::Status ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* response) override;
  grpc::Status ModelReady(grpc::ServerContext* context, const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override;
  grpc::Status ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                              inference::ServerMetadataResponse* response) override;
  grpc::Status ModelMetadata(grpc::ServerContext* context, const inference::ModelMetadataRequest* request,
                             inference::ModelMetadataResponse* response) override;
  grpc::Status ModelInfer(grpc::ServerContext* context, const inference::ModelInferRequest* request,
                          inference::ModelInferResponse* response) override;

 private:
  ServingRouter* router_;
  RequestObserver* observer_;  // may be null
};

// Conversions between the gRPC messages and the protocol's tensors (tests).
absl::StatusOr<InferRequest> FromGrpcRequest(const inference::ModelInferRequest& request);
void ToGrpcResponse(const InferResult& result, inference::ModelInferResponse* response);

}  // namespace mliot::v2

#endif  // MLIOT_FRONTEND_V2_GRPC_SERVICE_H_
