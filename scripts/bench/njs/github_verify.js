// SPDX-License-Identifier: Apache-2.0
// The GitHub check written in njs, for scripts/bench/webhooks.sh: HMAC-SHA256
// of the raw body (r.requestText: the body must fit client_body_buffer_size)
// compared with X-Hub-Signature-256. Same answers as levqor's check.
const crypto = require('crypto');

const SECRET = 'bench-secret-0123456789abcdef';

function verify(r) {
    const sig = r.headersIn['X-Hub-Signature-256'] || '';
    const expected = 'sha256=' + crypto.createHmac('sha256', SECRET).update(r.requestText || '').digest('hex');
    if (sig !== expected) {
        r.headersOut['Content-Type'] = 'application/json';
        r.return(401, '{"error":"invalid_signature","provider":"github"}');
        return;
    }
    r.return(405);  // what empty_gif answers a POST in the other variants
}

export default { verify };
