// SPDX-License-Identifier: Apache-2.0
// The whole input side built from the settings, in one owner: the network
// resolver (abuse.asn_mmdb), the digester (abuse.pepper_file), the two
// deny-lists and the RequestParser over them. The abuse service holds one
// and replaces it whole on reload (a new one is built first, so a bad file
// keeps the old). Immutable once built: parser() is thread-safe.
#pragma once

#include <memory>

#include "levqor/controld/abuse/deny_list.h"
#include "levqor/controld/abuse/digest.h"
#include "levqor/controld/abuse/network.h"
#include "levqor/controld/abuse/request.h"
#include "levqor/controld/abuse/settings.h"

namespace levqor::controld::abuse {

// What /healthz reports about the input side.
struct InputStatus {
    NetworkStatus network;
    std::size_t email_deny_patterns = 0;
    std::size_t device_deny_patterns = 0;
    bool deny_jit = true;  // every pattern JIT-compiled
};

class InputSide {
public:
    // Throws PepperError (abuse.pepper_file unset or unusable),
    // std::runtime_error (abuse.asn_mmdb cannot be opened) or ConfigError
    // (a deny pattern). Messages name the setting, never a secret.
    explicit InputSide(const AbuseSettings& settings);
    InputSide(const InputSide&) = delete;
    InputSide& operator=(const InputSide&) = delete;

    const RequestParser& parser() const { return parser_; }
    const NetworkResolver& networks() const { return networks_; }
    InputStatus status() const;

private:
    NetworkResolver networks_;
    Digester digests_;
    DenyLists deny_;
    RequestParser parser_;
};

}  // namespace levqor::controld::abuse
