// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/inputs.h"

namespace levqor::controld::abuse {
namespace {

Digester digester_of(const AbuseSettings& settings) {
    if (!settings.pepper_file) {
        throw PepperError(
            "abuse.pepper_file is not set: the abuse checks need a pepper (openssl rand -hex 32 > FILE; chmod 600 "
            "FILE)");
    }
    return Digester::from_file(*settings.pepper_file);
}

}  // namespace

InputSide::InputSide(const AbuseSettings& settings)
    : networks_(settings.asn_mmdb),
      digests_(digester_of(settings)),
      deny_(deny_lists(settings)),
      parser_(networks_, digests_, deny_.email, deny_.device) {}

InputStatus InputSide::status() const {
    InputStatus s;
    s.network = networks_.status();
    s.email_deny_patterns = deny_.email.size();
    s.device_deny_patterns = deny_.device.size();
    s.deny_jit = deny_.email.jit() && deny_.device.jit();
    return s;
}

}  // namespace levqor::controld::abuse
