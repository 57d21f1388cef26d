import { describe, expect, it } from 'vitest';
import {
  credentialsSecretName,
  DEFAULT_SECRET_PREFIX,
  nextRunScheduleName,
  PLACEHOLDER_SECRET_STRING,
  secretArnNamePattern,
  tokenSecretName,
} from '../../../functions/core/names.js';

describe('Module: names', () => {
  describe('Function: tokenSecretName / credentialsSecretName', () => {
    it('names the secrets <prefix>/<provider>/token and <prefix>/<provider>/credentials', () => {
      expect(tokenSecretName(DEFAULT_SECRET_PREFIX, 'github')).toBe('token-refresher/github/token');
      expect(credentialsSecretName('prod/tokens', 'crm')).toBe('prod/tokens/crm/credentials');
    });
  });

  describe('Function: secretArnNamePattern', () => {
    it('matches one kind of secret under the prefix, with the ARN suffix', () => {
      expect(secretArnNamePattern('token-refresher', 'token')).toBe('token-refresher/*/token-??????');
      expect(secretArnNamePattern('p', 'credentials')).toBe('p/*/credentials-??????');
    });
  });

  describe('Constant: PLACEHOLDER_SECRET_STRING', () => {
    it('is the JSON the stack writes into a new secret', () => {
      expect(JSON.parse(PLACEHOLDER_SECRET_STRING)).toEqual({ status: 'pending' });
    });
  });

  describe('Function: nextRunScheduleName', () => {
    it('is next-<provider>, hashed to 64 characters when longer', () => {
      expect(nextRunScheduleName('github')).toBe('next-github');
      const long = 'a'.repeat(64);
      expect(nextRunScheduleName(long)).toHaveLength(64);
      expect(nextRunScheduleName(long)).not.toBe(nextRunScheduleName(`${'a'.repeat(63)}b`));
    });
  });
});
