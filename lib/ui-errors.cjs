'use strict';
// formatErrorForUI: a title and a remediation for each error class, as genai-electron shows them.
const E = require('./errors.cjs');

const RETRY = 'Please try again. If the problem persists, check the logs for more details.';

// Order matters: subclasses before their parents.
/** @type {Array<[new (...args: any[]) => any, string, (e: any) => string | undefined]>} */
const RULES = [
  [E.ContextConstraintError, 'Context Capacity Requirement Not Met', (e) => e.details?.suggestion || 'Review the requested context policy, parallel request count, and available model metadata.'],
  [E.ModelNotFoundError, 'Model Not Found', (e) => e.details?.suggestion || 'Check that the model ID is correct and the model has been downloaded.'],
  [E.DownloadError, 'Download Failed', () => 'Check your internet connection and try again. If the problem persists, verify the download URL is correct.'],
  [E.InsufficientResourcesError, 'Not Enough Resources', (e) => e.details?.suggestion || 'Try closing other applications to free up resources, or use a smaller model.'],
  [E.PortInUseError, 'Port Already In Use', (e) => e.details?.suggestion || 'Choose a different port or stop the application using this port.'],
  [E.ServerError, 'Server Error', () => 'Check the server logs for more details. The server may need to be restarted.'],
  [E.FileSystemError, 'File System Error', () => 'Check that you have sufficient permissions and disk space, then try again.'],
  [E.ChecksumError, 'Checksum Verification Failed', (e) => e.details?.suggestion || 'The downloaded file may be corrupted. Try downloading again.'],
  [E.BinaryError, 'Binary Error', () => 'The binary may be missing or corrupted. Try restarting the application to trigger a fresh download.'],
  [E.GenaiElectronError, 'Operation Failed', (e) => e.details?.suggestion],
];

function formatErrorForUI(error) {
  if (error instanceof E.LlamaCalibrationResourceStabilityError) {
    const drift = error.details.code === 'CALIBRATION_RESOURCE_DRIFT';
    return {
      code: error.details.code,
      title: drift ? 'Machine Resources Changed During Calibration' : 'Machine Resource Stability Could Not Be Verified',
      message: `${error.message}. Calibration was stopped and produced no usable recommendation; close heavy applications and other GPU work, then run it again from the beginning.`,
      remediation: error.details.suggestion,
    };
  }
  for (const [Class, title, remediation] of RULES) {
    if (error instanceof Class) return { code: error.code, title, message: error.message, remediation: remediation(error) };
  }
  const message = error instanceof Error ? error.message : error != null ? String(error) : '';
  return { code: 'UNKNOWN_ERROR', title: 'Unknown Error', message: message || 'An unexpected error occurred.', remediation: RETRY };
}

module.exports = { formatErrorForUI };
